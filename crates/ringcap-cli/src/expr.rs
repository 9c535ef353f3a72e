//! The filter expression of `capture` and `read`: the words after the options, or a file
//! (`-F FILE`, as tcpdump's), never both.

use std::path::PathBuf;

use anyhow::{bail, Context};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Read the filter expression from FILE (as tcpdump -F: `#` starts a comment that runs to
    /// the end of its line); no expression may follow on the command line then.
    #[arg(short = 'F', value_name = "FILE")]
    pub filter_file: Option<PathBuf>,
    /// Filter expression (tcpdump's pcap-filter syntax), e.g. `tcp port 80`. Options may
    /// follow it, as with tcpdump.
    #[arg(trailing_var_arg = true, value_name = "EXPRESSION")]
    pub expr: Vec<String>,
}

impl FilterArgs {
    /// The expression: the words joined by spaces, or the file's text with its comments blanked
    /// out (empty: no filter).
    pub fn expression(&self) -> anyhow::Result<String> {
        let Some(path) = &self.filter_file else {
            return Ok(self.expr.join(" "));
        };
        if !self.expr.is_empty() {
            bail!(
                "-F {} gives the filter; an expression on the command line too ({:?}) is refused \
                 (put it in the file, or leave out -F)",
                path.display(),
                self.expr.join(" ")
            );
        }
        let text = std::fs::read(path).with_context(|| format!("-F {}", path.display()))?;
        let text = String::from_utf8(text)
            .map_err(|_| anyhow::anyhow!("-F {}: not a text file", path.display()))?;
        Ok(strip_comments(&text))
    }
}

/// tcpdump's `read_infile`: every `#` up to the end of its line becomes spaces; lines are
/// joined with spaces.
pub fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_blanked_as_tcpdump_does() {
        assert_eq!(
            strip_comments("# web traffic\ntcp port 80 # plain\n  or tcp port 443\n"),
            "tcp port 80    or tcp port 443"
        );
        assert_eq!(strip_comments("# nothing\n"), "");
    }

    #[test]
    fn a_file_and_an_expression_are_refused_together() {
        let dir = std::env::temp_dir().join(format!("ringcap-expr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, "udp # dns\n").unwrap();
        let a = FilterArgs {
            filter_file: Some(f.clone()),
            expr: vec![],
        };
        assert_eq!(a.expression().unwrap(), "udp");
        let a = FilterArgs {
            filter_file: Some(f),
            expr: vec!["tcp".into()],
        };
        let e = a.expression().unwrap_err().to_string();
        assert!(e.contains("refused"), "{e}");
        let a = FilterArgs {
            filter_file: Some(dir.join("missing")),
            expr: vec![],
        };
        assert!(a.expression().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
