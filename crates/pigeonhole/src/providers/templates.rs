//! Provider templates: the stored templates an app sends by ID (SendGrid's dynamic
//! templates, SES's templates) rendered with the data of each send, so that the
//! captured message is the one the provider would have sent.
//!
//! The real templates live at the provider; Pigeonhole reads copies from a folder
//! (`serve --provider-templates DIR`): for a template ID `ID`, `ID.subject`,
//! `ID.html` and `ID.txt`, each optional. The folder is read at every send, so an
//! edited template shows in the next message without a restart. SES v2 can also
//! send a template inline (`TemplateContent`), which needs no folder.
//!
//! Both providers write templates in Handlebars, rendered here with the
//! `handlebars` crate: HTML with `{{value}}` escaped (`{{{value}}}` raw), the
//! subject and text never escaped, a missing value rendered empty, as the
//! providers do.

use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde_json::Value;

/// The templates folder, if one is set.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    dir: Option<PathBuf>,
}

/// A template's three parts, any of which may be missing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Why a template could not be used; said to the app in the provider's error shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error(
        "no template {id:?} in {dir}: add {id}.html, {id}.txt or {id}.subject there (a copy of the provider's template)"
    )]
    Unknown { id: String, dir: String },
    #[error(
        "Pigeonhole has no copy of the template {id}: start it with --provider-templates DIR and add {id}.html, \
         {id}.txt or {id}.subject there"
    )]
    NoFolder { id: String },
    #[error("{id:?} cannot name a template file: use letters, digits, '.', '-' and '_'")]
    BadId { id: String },
    #[error("cannot read the template {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the template's {part} does not render: {reason}")]
    Render { part: &'static str, reason: String },
}

impl Templates {
    /// Templates read from `dir`; `None`: no stored templates.
    pub fn new(dir: Option<PathBuf>) -> Templates {
        Templates { dir }
    }

    /// The stored template `id`, or `Ok(None)` when no folder is set (the send is
    /// then stored as the request gave it).
    pub fn stored(&self, id: &str) -> Result<Option<Template>, TemplateError> {
        let Some(dir) = &self.dir else { return Ok(None) };
        let id = id.trim();
        let safe = !id.is_empty()
            && id.len() <= 200
            && !id.starts_with('.')
            && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
        if !safe {
            return Err(TemplateError::BadId { id: id.to_string() });
        }
        let template = Template {
            subject: read_part(dir, id, "subject")?,
            html: read_part(dir, id, "html")?,
            text: read_part(dir, id, "txt")?,
        };
        if template == Template::default() {
            return Err(TemplateError::Unknown { id: id.to_string(), dir: dir.display().to_string() });
        }
        Ok(Some(template))
    }
}

impl Templates {
    /// The stored template `id`, where the send cannot go without it.
    pub fn required(&self, id: &str) -> Result<Template, TemplateError> {
        self.stored(id)?.ok_or_else(|| TemplateError::NoFolder { id: id.trim().to_string() })
    }
}

fn read_part(dir: &Path, id: &str, extension: &str) -> Result<Option<String>, TemplateError> {
    let path = dir.join(format!("{id}.{extension}"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(TemplateError::Read { path: path.display().to_string(), reason: err.to_string() }),
    }
}

impl Template {
    /// Each part rendered with `data` (a JSON object; anything else renders the
    /// values as missing).
    pub fn render(&self, data: &Value) -> Result<Template, TemplateError> {
        let mut plain = Handlebars::new();
        plain.register_escape_fn(handlebars::no_escape);
        let html = Handlebars::new();
        let render = |engine: &Handlebars, part: &'static str, source: &Option<String>| {
            source
                .as_deref()
                .map(|source| {
                    engine
                        .render_template(source, data)
                        .map_err(|err| TemplateError::Render { part, reason: err.to_string() })
                })
                .transpose()
        };
        Ok(Template {
            // A subject is one line: a value with a line break must not start a header.
            subject: render(&plain, "subject", &self.subject)?.map(|subject| subject.replace(['\r', '\n'], " ")),
            html: render(&html, "HTML", &self.html)?,
            text: render(&plain, "text", &self.text)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        (dir, templates)
    }

    #[test]
    fn a_stored_template_renders_html_escaped_and_text_raw() {
        let (_dir, templates) = folder(&[
            ("d-welcome.subject", "Welcome, {{name}}!"),
            ("d-welcome.html", "<p>Hi {{name}}</p>{{#each items}}<li>{{this}}</li>{{/each}}{{{footer}}}"),
            ("d-welcome.txt", "Hi {{name}}{{missing}}."),
        ]);
        let data = json!({"name": "Ann <&>", "items": ["a", "b"], "footer": "<hr>"});
        let rendered = templates.stored("d-welcome").unwrap().unwrap().render(&data).unwrap();
        assert_eq!(rendered.subject.as_deref(), Some("Welcome, Ann <&>!"));
        assert_eq!(rendered.html.as_deref(), Some("<p>Hi Ann &lt;&amp;&gt;</p><li>a</li><li>b</li><hr>"));
        assert_eq!(rendered.text.as_deref(), Some("Hi Ann <&>."));
    }

    #[test]
    fn a_subject_stays_one_line() {
        let template = Template { subject: Some("Re: {{s}}".into()), ..Template::default() };
        let rendered = template.render(&json!({"s": "a\r\nBcc: x@y"})).unwrap();
        assert_eq!(rendered.subject.as_deref(), Some("Re: a  Bcc: x@y"));
    }

    #[test]
    fn unknown_ids_bad_ids_and_bad_templates_say_what_to_do() {
        let (dir, templates) = folder(&[("broken.html", "{{#each}}")]);
        let unknown = templates.stored("d-nothing").unwrap_err().to_string();
        assert!(unknown.contains("add d-nothing.html") && unknown.contains(&dir.path().display().to_string()));
        for id in ["../etc/passwd", ".hidden", "a/b", ""] {
            assert!(matches!(templates.stored(id), Err(TemplateError::BadId { .. })), "{id}");
        }
        let broken = templates.stored("broken").unwrap().unwrap().render(&json!({})).unwrap_err();
        assert!(matches!(broken, TemplateError::Render { part: "HTML", .. }), "{broken}");
        assert_eq!(Templates::default().stored("d-any"), Ok(None), "no folder: nothing to render");
    }
}
