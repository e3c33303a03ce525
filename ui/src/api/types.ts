// Generated from the Rust API types by `cargo test -p pigeonhole ts_types` — do not edit.
// Regenerate with `PIGEONHOLE_BLESS=1 cargo test -p pigeonhole ts_types`.

/**
 * Every error's body.
 */
export type ErrorBody = { Error: string, };

/**
 * A mailbox, as Mailpit shows it: `{"Name": "", "Address": ""}`; `Name` is `""`
 * when absent, never missing.
 */
export type Address = { Name: string, Address: string, };

/**
 * A list item, in Mailpit's `MessageSummary` shape (key set and order matter).
 */
export type MessageSummary = { ID: string, MessageID: string, Read: boolean, From: Address, To: Array<Address>, Cc: Array<Address>, Bcc: Array<Address>, ReplyTo: Array<Address>, Subject: string, 
/**
 * When the message was received (RFC 3339).
 */
Created: string, 
/**
 * SMTP AUTH user name ("" if none).
 */
Username: string, Tags: Array<string>, Size: number, Attachments: number, Snippet: string, };

/**
 * A page of summaries, in Mailpit's `MessagesSummary` shape.
 */
export type MessagePage = { total: number, unread: number, count: number, messages_count: number, messages_unread: number, start: number, tags: Array<string>, messages: Array<MessageSummary>, };

/**
 * Mailpit's `Message`: key set and order matter to its clients (no `Read` key).
 */
export type MessageView = { ID: string, MessageID: string, From: Address, To: Array<Address>, Cc: Array<Address>, Bcc: Array<Address>, ReplyTo: Array<Address>, ReturnPath: string, Subject: string, ListUnsubscribe: ListUnsubscribe, 
/**
 * The Date header, or the time received when it is missing or invalid.
 */
Date: string, Tags: Array<string>, Username: string, Text: string, HTML: string, Size: number, Inline: Array<Attachment>, Attachments: Array<Attachment>, 
/**
 * The calendar invitation the message carries (ours, not Mailpit's: only
 * there when the message has a `text/calendar` part).
 */
Calendar?: CalendarInvite, };

/**
 * The List-Unsubscribe headers and what Mailpit's checker makes of them.
 */
export type ListUnsubscribe = { Header: string, Links: Array<string>, 
/**
 * Problems found in `header`, comma-separated; `""` if none.
 */
Errors: string, HeaderPost: string, };

/**
 * An inline part or attachment, without its bytes.
 */
export type Attachment = { PartID: string, 
/**
 * The file name, or the Content-ID when the part has no name.
 */
FileName: string, 
/**
 * The media type alone (`image/png`), as Mailpit shows it.
 */
ContentType: string, ContentID: string, 
/**
 * Decoded size in bytes.
 */
Size: number, Checksums: Checksums, };

/**
 * Lowercase hex digests of a part's decoded bytes.
 */
export type Checksums = { MD5: string, SHA1: string, SHA256: string, };

/**
 * A node of the MIME tree (`/parts`): a container (`multipart/*`) with its
 * `Parts`, or a leaf, which `/part/{PartID}` serves.
 */
export type PartNode = { 
/**
 * IMAP section number, as `/part/{PartID}` takes it; `""` for a multipart
 * message's root (the message itself, not a part of it).
 */
PartID: string, 
/**
 * The media type alone (`text/html`).
 */
ContentType: string, 
/**
 * The part's file name, or `""`.
 */
FileName: string, 
/**
 * Decoded size in bytes; a container's is the sum of its parts'.
 */
Size: number, 
/**
 * The part's own header fields in order, as (name as written, decoded value).
 */
Headers: Array<[string, string]>, Parts: Array<PartNode>, };

/**
 * Who sent a message and how: everything SMTP knew besides the bytes.
 */
export type Envelope = { 
/**
 * MAIL FROM address (empty for the null sender `<>`).
 */
MailFrom: string, 
/**
 * RCPT TO addresses, in order (Bcc recipients show up only here).
 */
RcptTo: Array<string>, 
/**
 * The EHLO/HELO name the client gave.
 */
Helo: string, 
/**
 * The client's address, `ip:port`.
 */
Peer: string, 
/**
 * Whether the message came over STARTTLS.
 */
Tls: boolean, 
/**
 * The SMTP AUTH user name, if the client authenticated.
 */
AuthUser: string | null, 
/**
 * The session's commands and replies up to this message (never the body,
 * never a password), one `C: ` or `S: ` line each.
 */
Transcript: string, 
/**
 * Set when the message came through an email provider's HTTP API (SendGrid,
 * Postmark …) instead of SMTP.
 */
Api: ApiRequest | null, 
/**
 * What delivery simulation did with the message (a rule or a simulator
 * address); `None` when nothing applied and it was simply accepted.
 */
Simulation: SimulationOutcome | null, };

/**
 * The HTTP request a message came in, for mail sent through a provider's API.
 */
export type ApiRequest = { 
/**
 * The provider whose API took it: `sendgrid`, `postmark`, `mailgun`, `ses` or
 * `resend`.
 */
Provider: string, 
/**
 * The ID the provider's answer gave the app for this message (what its
 * events and webhooks refer to).
 */
ProviderMessageId: string, 
/**
 * The request as received: request line, headers with credentials masked,
 * body (long bodies cut).
 */
Request: string, };

/**
 * Which simulation rule applied to a message and what the sender got back.
 */
export type SimulationOutcome = { 
/**
 * The rule that matched: a simulator address (`bounce@simulator.test`) or a
 * rule from the rules file, by name.
 */
Rule: string, 
/**
 * Its action: `accept`, `reject`, `defer`, `tarpit`, `disconnect`, `bounce`,
 * `complaint`, `auto-reply` or `forward`.
 */
Action: string, 
/**
 * What the sender was answered (an SMTP reply, or the HTTP status and body).
 */
Reply: string, 
/**
 * What followed the answer, one line each (a DSN delivered to the sender's
 * inbox, a forward through the relay …).
 */
Effects: Array<string>, };

/**
 * The whole report for one message.
 */
export type CheckReport = { 
/**
 * 100 for a message with nothing to report, less for each check that fails
 * (by its worst severity), never below 0.
 */
Score: number, Summary: CheckSummary, 
/**
 * Problems first (errors, warnings, notices), then the checks that passed.
 */
Checks: Array<Check>, };

/**
 * How many entries of `Checks` have each severity.
 */
export type CheckSummary = { Errors: number, Warnings: number, Notices: number, Passed: number, };

/**
 * One finding, or one check that passed.
 */
export type Check = { 
/**
 * Stable, for `--ignore`: `headers.date-missing`, `auth.dkim`, …
 */
ID: string, Category: Category, Severity: Severity, 
/**
 * What the check looks at, in a few words.
 */
Title: string, 
/**
 * What was found in this message (message content quoted as data, shortened).
 */
Detail: string, 
/**
 * Why it matters and how to fix it; `""` for a pass.
 */
Fix: string, 
/**
 * A standard or guide that explains the rule (an https URL).
 */
Reference: string, 
/**
 * Where in the message it applies; null when it applies to the whole message.
 */
Where: Location | null, };

/**
 * How bad a finding is. `pass`: the check ran and found nothing.
 */
export type Severity = "error" | "warning" | "notice" | "pass";

/**
 * What part of the message a check is about.
 */
export type Category = "smtp" | "headers" | "mime" | "auth" | "deliverability" | "html" | "links" | "accessibility" | "privacy" | "spam";

/**
 * Where a finding applies: any of a header field, a MIME part, a line, an element.
 */
export type Location = { 
/**
 * A header field's name as written (`Subject`).
 */
Header?: string, 
/**
 * A MIME part's IMAP section number, as `PartID` in `/parts` (`"1.2"`).
 */
Part?: string, 
/**
 * A 1-based line: of the raw message, or of the HTML body when `Element` is set.
 */
Line?: number, 
/**
 * An HTML element of the HTML body, as a CSS selector from the root
 * (`html > body > table:nth-of-type(1) > tbody > tr > td > img:nth-of-type(2)`).
 */
Element?: string, };

/**
 * What changed from message `A` to message `B`. Each section has its own `Equal`;
 * [`DiffReport::verdicts`] says which of them count toward the report's.
 */
export type DiffReport = { 
/**
 * True when no section below that counts found a difference (under `Options`).
 * With `Visual`, the screenshots (within its threshold) judge the HTML body in
 * place of `Html` (then `Html.Counted` is false) and of the HTML part's size and
 * checksum in `Structure` (`Structure.EqualApartFromHtml` counts); headers, text,
 * the rest of the structure and checks count either way.
 */
Equal: boolean, A: SideInfo, B: SideInfo, Options: DiffOptions, Headers: HeadersDiff, 
/**
 * The text body (`text/plain`, or the HTML turned into text when there is none).
 */
Text: LinesDiff, Html: HtmlDiff, Structure: StructureDiff, Checks: ChecksDiff, 
/**
 * The screenshots compared, when asked for (`visual=1`).
 */
Visual?: VisualDiff, };

/**
 * Which message a side is.
 */
export type SideInfo = { 
/**
 * The message's ID, or the compared file's name.
 */
Label: string, 
/**
 * Its decoded Subject, or `""`.
 */
Subject: string, 
/**
 * Its size in bytes.
 */
Size: number, };

/**
 * What to leave out of the comparison.
 */
export type DiffOptions = { 
/**
 * Header names set aside besides the volatile ones (any case).
 */
IgnoreHeaders: Array<string>, 
/**
 * Compare the volatile headers too ([`VOLATILE_HEADERS`]).
 */
IncludeVolatile: boolean, };

/**
 * The headers' diff.
 */
export type HeadersDiff = { 
/**
 * No compared header differs.
 */
Equal: boolean, 
/**
 * The compared headers that differ, by name.
 */
Changes: Array<HeaderChange>, 
/**
 * The headers set aside (volatile or ignored) that either message has, by
 * name, whether or not they differ.
 */
Ignored: Array<HeaderChange>, };

/**
 * One header name in both messages.
 */
export type HeaderChange = { 
/**
 * The name, Go-canonical (`Message-Id`) as `/headers` gives it.
 */
Name: string, Kind: HeaderChangeKind, 
/**
 * Its values in A, in order, decoded (message content: escape it).
 */
A: Array<string>, 
/**
 * Its values in B.
 */
B: Array<string>, 
/**
 * Set aside as volatile (not named by the caller).
 */
Volatile: boolean, };

/**
 * How a header differs: only in B, only in A, other values, or the same.
 */
export type HeaderChangeKind = "added" | "removed" | "changed" | "same";

/**
 * One part's line diff.
 */
export type LinesDiff = { Equal: boolean, 
/**
 * The changes with their context, in order; empty when equal.
 */
Hunks: Array<Hunk>, 
/**
 * Lines of hunks left out past the listing's limit (5,000 lines).
 */
Omitted: number, };

/**
 * A run of changes with context: `@@ -OldStart,OldLines +NewStart,NewLines @@`.
 */
export type Hunk = { 
/**
 * First line in A (1-based; 0 for an empty range).
 */
OldStart: number, OldLines: number, 
/**
 * First line in B (1-based; 0 for an empty range).
 */
NewStart: number, NewLines: number, Lines: Array<Line>, };

/**
 * One line of a hunk.
 */
export type Line = { Kind: LineKind, 
/**
 * The line's text (message content: escape it wherever it is shown).
 */
Text: string, };

/**
 * Whether a line is in both messages, only in A or only in B.
 */
export type LineKind = "context" | "removed" | "added";

/**
 * The HTML body's diff.
 */
export type HtmlDiff = { 
/**
 * The normal forms' line diff (`Equal` says whether the bodies differ).
 */
Lines: LinesDiff, 
/**
 * Whether `Lines.Equal` counts toward the report's `Equal`: false when the
 * report has a `Visual` section, whose screenshots then judge the HTML body
 * (this diff is still there, for information).
 */
Counted: boolean, 
/**
 * Selectors of A's elements that were removed or changed, outermost first.
 */
ChangedA: Array<string>, 
/**
 * Selectors of B's elements that were added or changed.
 */
ChangedB: Array<string>, };

/**
 * The MIME structure's diff.
 */
export type StructureDiff = { 
/**
 * The two outlines' line diff.
 */
Lines: LinesDiff, 
/**
 * The outlines are equal but for the HTML body part's size and SHA-256: what
 * counts when the screenshots judge the HTML body (a visual diff).
 */
EqualApartFromHtml: boolean, 
/**
 * A's outline: one line per part (`PartID  type  "name"  size  sha256`).
 */
A: Array<string>, 
/**
 * B's outline.
 */
B: Array<string>, };

/**
 * The visual diff's section of a [`super::DiffReport`]: what was rendered, how it
 * was compared and what changed.
 */
export type VisualDiff = { 
/**
 * The browser window's width in CSS pixels.
 */
Width: number, 
/**
 * The mail client's view the screenshots show (`as-sent` when none was asked for).
 */
View: string, 
/**
 * The dark mode the screenshots show (`none` when none was asked for).
 */
Dark: string, 
/**
 * The percentage of changed pixels still called equal.
 */
Threshold: number, AWidth: number, AHeight: number, BWidth: number, BHeight: number, ChangedPixels: number, 
/**
 * Pixels in the union of both screenshots' sizes.
 */
TotalPixels: number, ChangedPercent: number, 
/**
 * `ChangedPercent <= Threshold`.
 */
Equal: boolean, 
/**
 * A's screenshot: a stored message's screenshot route, or for a posted file
 * `/api/v1/diff/capture/{KEY}.png`, answered while the screenshot cache keeps it.
 */
AUrl: string, 
/**
 * B's screenshot, as `AUrl`.
 */
BUrl: string, 
/**
 * The difference image: B greyed, changed pixels in magenta. `/api/v1/diff.png`
 * for two stored messages, else `/api/v1/diff/capture/{KEY}.png` as `AUrl`.
 */
DifferenceUrl: string, };

/**
 * The check reports' diff.
 */
export type ChecksDiff = { 
/**
 * Neither message has an error or warning the other lacks.
 */
Equal: boolean, 
/**
 * Errors and warnings B has and A not: what the change broke.
 */
Added: Array<CheckChange>, 
/**
 * Errors and warnings A has and B not: what the change fixed.
 */
Removed: Array<CheckChange>, 
/**
 * A's report's counts and score.
 */
A: ChecksSide, 
/**
 * B's.
 */
B: ChecksSide, };

/**
 * One report's counts and score.
 */
export type ChecksSide = { Score: number, Summary: CheckSummary, };

/**
 * A finding one side has and the other not.
 */
export type CheckChange = { ID: string, Severity: Severity, Title: string, 
/**
 * What was found (message content quoted as data).
 */
Detail: string, };

/**
 * Per-inbox counts.
 */
export type InboxInfo = { Name: string, Total: number, Unread: number, };

/**
 * `{"Links": [{"URL", "Text"}]}`
 */
export type LinksView = { Links: Array<Link>, };

/**
 * A link: its URL as written (entities decoded) and its anchor text (`""` for a
 * URL found in plain text).
 */
export type Link = { URL: string, Text: string, };

/**
 * `{"Codes": [{"Code", "Context"}]}`
 */
export type CodesView = { Codes: Array<Code>, };

/**
 * A one-time code and the text around it.
 */
export type Code = { Code: string, Context: string, };

/**
 * The request body (Mailpit's `SendRequest`).
 */
export type SendRequest = { From?: SendAddress, To?: Array<SendAddress>, Cc?: Array<SendAddress>, Bcc?: Array<BccRecipient>, ReplyTo?: Array<SendAddress>, Subject?: string, Text?: string, HTML?: string, Attachments?: Array<SendAttachment>, 
/**
 * Extra header fields, name → value; they replace fields of the same name.
 */
Headers?: { [key in string]: string }, Tags?: Array<string>, };

/**
 * A mailbox: `Email` is required wherever one is given.
 */
export type SendAddress = { Email?: string, Name?: string, };

/**
 * A Bcc recipient: a plain address (Mailpit's form) or `{Email, Name}`.
 */
export type BccRecipient = string | SendAddress;

/**
 * A file to attach: `Content` and `Filename` are required.
 */
export type SendAttachment = { 
/**
 * The file's bytes, base64.
 */
Content?: string, Filename?: string, 
/**
 * Guessed from the file name when missing.
 */
ContentType?: string, 
/**
 * Set: the attachment is inline, for `cid:` URLs in the HTML.
 */
ContentID?: string, };

/**
 * The answer: the stored message's ID.
 */
export type SendResponse = { ID: string, };

/**
 * The answer: the stored messages' IDs, in the file's order.
 */
export type ImportResponse = { IDs: Array<string>, };

/**
 * `/api/v1/info` (Mailpit's `AppInformation`).
 */
export type AppInformation = { Version: string, 
/**
 * Mailpit asks GitHub; we never phone home.
 */
LatestVersion: string, Database: string, 
/**
 * The database file plus its write-ahead log, in bytes.
 */
DatabaseSize: number, Messages: number, Unread: number, 
/**
 * Tag → number of messages with it.
 */
Tags: { [key in string]: number }, RuntimeStats: RuntimeStats, };

export type RuntimeStats = { 
/**
 * Seconds since the API state was made (at engine start).
 */
Uptime: number, 
/**
 * Resident set size in bytes (Linux; 0 elsewhere).
 */
Memory: number, MessagesDeleted: number, SMTPAccepted: number, SMTPAcceptedSize: number, SMTPRejected: number, SMTPIgnored: number, };

/**
 * `/api/v1/webui` (Mailpit's `WebUIConfiguration`): what the UI may offer.
 */
export type WebUiConfiguration = { Label: string, MessageRelay: MessageRelay, SpamAssassin: boolean, ChaosEnabled: boolean, DuplicatesIgnored: boolean, HideDeleteAllButton: boolean, };

export type MessageRelay = { Enabled: boolean, 
/**
 * `host:port`.
 */
SMTPServer: string, ReturnPath: string, 
/**
 * Patterns (regular expressions); empty when not set.
 */
AllowedRecipients: string, BlockedRecipients: string, OverrideFrom: string, PreserveMessageIDs: boolean, 
/**
 * Mailpit's deprecated name for `AllowedRecipients`, still sent by it.
 */
RecipientAllowlist: string, };

/**
 * One change, as sent over `/api/events`.
 */
export type Event = { "Type": "new", "Data": MessageSummary } | { "Type": "stats", "Data": Stats } | { "Type": "update", "Data": ReadChanged } | { "Type": "update", "Data": TagsChanged } | { "Type": "delete", "Data": Deleted } | { "Type": "truncate", "Data": null } | { "Type": "prune", "Data": null } | { "Type": "intake", "Data": IntakeState } | { "Type": "burst", "Data": Burst } | { "Type": "disk", "Data": DiskState } | { "Type": "effects", "Data": EffectsRecorded };

export type Stats = { Total: number, Unread: number, Version: string, };

export type ReadChanged = { ID: string, Read: boolean, };

export type TagsChanged = { ID: string, 
/**
 * The message's tags now (all of them).
 */
Tags: Array<string>, };

export type Deleted = { ID: string, };

/**
 * Whether SMTP takes mail (`GET`/`PUT /api/v1/intake`, the `intake` event).
 */
export type IntakeState = { Paused: boolean, };

/**
 * The answer to both methods.
 */
export type IntakeView = { Paused: boolean, 
/**
 * Where SMTP listens (`ip:port`; `""` when the API runs without a listener).
 */
SMTPAddress: string, 
/**
 * Where POP3 listens (`""` when it is off): the first-run help gives a mail
 * client's account settings for it.
 */
POP3Address: string, 
/**
 * Where IMAP listens (`""` when it is off), and whether with TLS from the
 * first byte (`--imap-tls-implicit`) rather than STARTTLS.
 */
IMAPAddress: string, IMAPImplicitTLS: boolean, };

/**
 * New messages not announced one by one (the `burst` event).
 */
export type Burst = { 
/**
 * How many `new` frames this stands for.
 */
Count: number, };

/**
 * Whether the data folder's disk is full (the `disk` event; `GET /api/v1/storage` says it too).
 */
export type DiskState = { 
/**
 * A write failed for want of space, and there is no room yet.
 */
Full: boolean, };

export type EffectsRecorded = { ID: string, };

/**
 * Ours: the data folder and whether its disk is full (then SMTP answers
 * `452 4.3.1` until space is freed); the `disk` event reports changes.
 */
export type StorageView = { 
/**
 * The data folder (where `pigeonhole.db` is).
 */
DataDir: string, 
/**
 * A write failed for want of space, and no space was freed since.
 */
DiskFull: boolean, };

/**
 * `HTMLCheckResponse`.
 */
export type HTMLCheckResponse = { 
/**
 * Platform (`desktop-webmail`, `ios`, …) → the client families tested on it.
 */
Platforms: { [key in string]: Array<string> }, Total: HTMLCheckTotal, 
/**
 * Features found, the least supported (weighted by use) first.
 */
Warnings: Array<HTMLCheckWarning>, };

/**
 * `HTMLCheckTotal`: the document's size and the weighted overall support.
 */
export type HTMLCheckTotal = { 
/**
 * Elements in the document.
 */
Nodes: number, 
/**
 * Features looked for.
 */
Tests: number, Supported: number, Partial: number, Unsupported: number, };

/**
 * `HTMLCheckWarning`: one feature the HTML uses.
 */
export type HTMLCheckWarning = { Slug: string, Title: string, 
/**
 * HTML (rendered from the data's Markdown).
 */
Description: string, Category: string, Keywords: string, Tags: Array<string>, URL: string, 
/**
 * Note number → note (HTML), for the results' `NoteNumber`.
 */
NotesByNumber: { [key in string]: string }, Score: HTMLCheckScore, Results: Array<HTMLCheckResult>, };

/**
 * `HTMLCheckScore`: percentages of clients, and how often the feature occurs.
 */
export type HTMLCheckScore = { Found: number, Supported: number, Partial: number, Unsupported: number, };

/**
 * `HTMLCheckResult`: one client version's support.
 */
export type HTMLCheckResult = { 
/**
 * `Gmail iOS (2020-11)`.
 */
Name: string, Family: string, Platform: string, Version: string, 
/**
 * `yes`, `no` or `partial`.
 */
Support: string, 
/**
 * The note that qualifies a partial result, or `""`.
 */
NoteNumber: string, };

/**
 * What a view took out of a message: `GET /api/v1/message/{ID}/view-notes`, and
 * `X-Pigeonhole-View-Removed` beside the view itself.
 */
export type ViewNotes = { 
/**
 * The view (`outlook`).
 */
View: string, 
/**
 * The dark mode the client uses when its reader has dark mode on.
 */
DefaultDark: string, 
/**
 * One line: "Outlook dropped 14 declarations: border-radius ×6, …", or "" when
 * nothing was taken out.
 */
Summary: string, 
/**
 * What was taken out, grouped by kind and feature, the most frequent first.
 */
Removed: Array<Removal>, 
/**
 * Gmail clipped the message at 102 KB.
 */
Clipped: boolean, 
/**
 * Remote images the client does not load until asked.
 */
ImagesBlocked: number, };

/**
 * A message's calendar part, as the event card shows it.
 */
export type CalendarInvite = { 
/**
 * The part's ID (`1.2`).
 */
PartID: string, 
/**
 * iTIP's METHOD as sent (`REQUEST`, `CANCEL`, `PUBLISH`, …), or "".
 */
Method: string, 
/**
 * What it is: `invitation`, `update`, `cancellation`, `reply`, `event`.
 */
Kind: string, 
/**
 * Why the part could not be read, or "" when it could.
 */
Error: string, Events: Array<CalendarEvent>, };

/**
 * One VEVENT.
 */
export type CalendarEvent = { Summary: string, Location: string, 
/**
 * The start as an RFC 3339 instant (the UI shows it in the viewer's zone), or
 * "" for a floating time or a TZID that neither the calendar's VTIMEZONE nor the
 * IANA database (by its name or a Windows zone's) defines.
 */
Start: string, End: string, 
/**
 * The start and end as written (`2025-03-14 10:00`), in [`Self::time_zone`].
 */
StartLocal: string, EndLocal: string, 
/**
 * DTSTART's TZID as written (`Europe/Berlin`, Outlook's `Pacific Standard Time`),
 * `UTC`, or "" for a floating time.
 */
TimeZone: string, AllDay: boolean, Organizer: CalendarPerson, Attendees: Array<CalendarPerson>, 
/**
 * RRULE in words ("Weekly on Monday and Wednesday, 10 times"), or "".
 */
Recurrence: string, Sequence: number, 
/**
 * STATUS (`CONFIRMED`, `CANCELLED`…), or "".
 */
Status: string, };

/**
 * An organiser or attendee.
 */
export type CalendarPerson = { Name: string, Email: string, 
/**
 * PARTSTAT (`ACCEPTED`, `NEEDS-ACTION`, …); "" for the organiser.
 */
Status: string, };

/**
 * One kind of thing a view took out, and the caniemail feature that explains it.
 */
export type Removal = { 
/**
 * `declaration`, `rule`, `at-rule`, `element`, `attribute` or `style-block`.
 */
Kind: string, 
/**
 * The caniemail feature (`css-border-radius`): the html-check's `Slug`.
 */
Feature: string, 
/**
 * The feature's title (`border-radius`).
 */
Title: string, 
/**
 * caniemail's page for the feature.
 */
URL: string, 
/**
 * The check in the Checks tab whose findings list the feature.
 */
Check: string, Count: number, };

/**
 * `LinkCheckResponse`.
 */
export type LinkCheckResponse = { 
/**
 * Links that failed: no answer, a refusal, or a status of 400 and up.
 */
Errors: number, Links: Array<LinkCheckLink>, };

/**
 * One checked link (Mailpit's `Link` of the link check).
 */
export type LinkCheckLink = { URL: string, 
/**
 * The HTTP status; 0 when there was none.
 */
StatusCode: number, 
/**
 * The status's reason (`Not Found`), or why there was none.
 */
Status: string, };

/**
 * `SpamAssassinResponse`.
 */
export type SpamAssassinResponse = { 
/**
 * spamd's verdict: the score reached its threshold (`required_score`, 5 by default).
 */
IsSpam: boolean, 
/**
 * Why there is no verdict (spamd unreachable, too slow, or it answered an
 * error); empty when the check ran.
 */
Error: string, 
/**
 * The total score, rounded down to one decimal as Mailpit does.
 */
Score: number, 
/**
 * The rules that matched, in the report's order.
 */
Rules: Array<SpamAssassinRule>, };

/**
 * One matched rule (Mailpit's `Rule`).
 */
export type SpamAssassinRule = { Score: number, Name: string, Description: string, };

/**
 * Mailpit's `ChaosTriggers`: which SMTP step fails, with which code, how often.
 */
export type ChaosTriggers = { 
/**
 * Fails MAIL FROM.
 */
Sender: ChaosTrigger, 
/**
 * Fails RCPT TO.
 */
Recipient: ChaosTrigger, 
/**
 * Fails AUTH.
 */
Authentication: ChaosTrigger, };

/**
 * One trigger: answer `ErrorCode` (400–599), with a `Probability` percent chance.
 */
export type ChaosTrigger = { ErrorCode: number, Probability: number, };

/**
 * The rules in force, where they are saved, and the built-in simulator addresses.
 */
export type RulesInfo = { 
/**
 * The rules file's text (TOML).
 */
Rules: string, 
/**
 * The file PUT saves to (`--rules`, or `rules.toml` in the data folder).
 */
Path: string, 
/**
 * The simulator addresses, active without any rule (user rules come first).
 */
Simulator: Array<SimulatorAddress>, };

/**
 * One built-in simulator address.
 */
export type SimulatorAddress = { 
/**
 * The address (`+tags` match too: `bounce+x@simulator.test`).
 */
Address: string, 
/**
 * What mail to it meets.
 */
Effect: string, };

/**
 * `GET/PUT /api/v1/webhooks`.
 */
export type WebhooksView = { 
/**
 * One entry per provider, in a fixed order (a PUT may list fewer: the rest
 * are left as they are).
 */
Webhooks: Array<Webhook>, Retries: Retries | null, 
/**
 * The message webhooks, `--webhook-url`'s first. A PUT that lists them
 * replaces the saved ones (entries marked `CommandLine` are skipped); one
 * that leaves them out keeps them.
 */
MessageWebhooks: Array<MessageWebhook> | null, 
/**
 * The `whsec_` secret message webhooks are signed with; shown, never set.
 */
MessageSigningSecret: string | null, 
/**
 * At most this many message webhook deliveries start per second
 * (`--webhook-limit`; 0: no limit); shown, never set.
 */
MessageLimit: number | null, };

/**
 * One provider's endpoint, and (in the API's view) the key its app verifies
 * deliveries with.
 */
export type Webhook = { 
/**
 * `sendgrid`, `postmark`, `mailgun`, `ses` or `resend`.
 */
Provider: string, 
/**
 * Where its events are POSTed (http or https; user:password@ sends basic auth,
 * as Postmark's webhooks do).
 */
URL: string, Enabled: boolean, 
/**
 * Extra headers sent with each delivery (Postmark's custom webhook headers).
 */
Headers: { [key in string]: string }, 
/**
 * What the app checks signatures with: SendGrid's public key (base64 DER),
 * Mailgun's signing key, Resend's `whsec_` secret, the URL of SNS's signing
 * certificate; `null` for Postmark, which does not sign. A PUT may set
 * Mailgun's and Resend's (to match an app's existing configuration). Always
 * `null` in `webhooks.json`, whose `Keys` hold them.
 */
VerificationKey: string | null, 
/**
 * SES only, in the API's view: whether the endpoint confirmed SNS's
 * subscription (visited the `SubscribeURL` of the `SubscriptionConfirmation`
 * posted to it); SNS posts it no events until then. Ignored in a PUT.
 */
SubscriptionConfirmed?: boolean, };

/**
 * Where new messages are posted: each message that passes the filter (an inbox,
 * a search) goes as its summary, Mailpit's webhook JSON, signed per Standard
 * Webhooks with the message signing secret.
 */
export type MessageWebhook = { 
/**
 * Names it in the delivery log (`Webhook`); made when a PUT leaves it empty.
 */
ID: string, 
/**
 * Where messages are POSTed (http or https).
 */
URL: string, Enabled: boolean, 
/**
 * Only messages in this inbox; empty: every inbox.
 */
Inbox: string, 
/**
 * Only messages matching this search (Mailpit's syntax); empty: all.
 */
Query: string, 
/**
 * Extra headers sent with each delivery.
 */
Headers: { [key in string]: string }, 
/**
 * Given by `--webhook-url`: on while the server runs, neither saved nor
 * changed by a PUT.
 */
CommandLine: boolean, };

/**
 * How a failed delivery is tried again: after `FirstDelayMillis`, then twice as
 * long each time, until `Attempts` tries in all; each try waits `TimeoutMillis`
 * for an answer.
 */
export type Retries = { Attempts: number, FirstDelayMillis: number, TimeoutMillis: number, };

/**
 * One provider event's or new message's delivery to one endpoint.
 */
export type Delivery = { 
/**
 * Numbers deliveries since the start.
 */
ID: number, 
/**
 * The stored message it is about; `""` for SNS's subscription confirmation.
 */
MessageID: string, 
/**
 * The provider whose event it is; `""` for a message webhook's delivery.
 */
Provider: string, 
/**
 * The message webhook's ID; absent for a provider event.
 */
Webhook?: string, 
/**
 * `delivered`, `bounced`, `deferred`, `complained`, `opened` or `clicked`;
 * `new` for a message webhook's delivery; `subscription-confirmation` for
 * SNS's, to the SES endpoint.
 */
Event: string, 
/**
 * The recipient a provider event is about; `""` for a message webhook's.
 */
Recipient: string, URL: string, State: DeliveryState, 
/**
 * The request body sent.
 */
Payload: string, Attempts: Array<Attempt>, };

/**
 * Where a delivery stands.
 */
export type DeliveryState = "pending" | "delivered" | "failed";

/**
 * One POST.
 */
export type Attempt = { 
/**
 * When it was sent (RFC 3339).
 */
Time: string, 
/**
 * The HTTP status; `null` when there was no answer.
 */
Status: number | null, 
/**
 * The start of the answer's body.
 */
Response: string, 
/**
 * Why there was no answer (timeout, connection refused …).
 */
Error: string | null, DurationMillis: number, };
