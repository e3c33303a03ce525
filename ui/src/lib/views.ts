/** The mail-client views and dark modes the preview route takes (`view=`, `dark=`),
 * with what the UI calls them: shared by the HTML preview, its screenshot grid and the compare view. */
export const CLIENT_VIEWS = [
  ['as-sent', 'As sent'],
  ['gmail', 'Gmail (web)'],
  ['outlook', 'Outlook (Windows desktop, Word engine)'],
  ['outlook-com', 'Outlook.com'],
  ['apple-mail', 'Apple Mail'],
  ['yahoo', 'Yahoo'],
  ['gmail-android', 'Gmail (Android app)'],
] as const;

export const DARK_MODES = [
  ['none', 'Light'],
  ['partial', 'Dark: partial (light backgrounds, dark text flipped)'],
  ['full', 'Dark: full inversion'],
  ['prefers', 'Dark: prefers-color-scheme honoured'],
] as const;
