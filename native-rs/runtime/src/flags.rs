//! Subcommand options: `--name VALUE` or `--name=VALUE`, each at most once.

use std::ffi::OsString;

pub struct Flags(Vec<(&'static str, OsString)>);

impl Flags {
    /// Only the names in `known` are accepted (`-b` is `--bundle`'s short form).
    pub fn parse(args: &[OsString], known: &[&'static str]) -> Result<Flags, String> {
        let mut found: Vec<(&'static str, OsString)> = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let text = arg.to_string_lossy();
            let (given, inline) = match text.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(OsString::from(v))),
                _ => (text.to_string(), None),
            };
            let given = if given == "-b" {
                "--bundle".to_string()
            } else {
                given
            };
            let name = known
                .iter()
                .copied()
                .find(|k| *k == given)
                .ok_or(format!("unknown option {}", given))?;
            if found.iter().any(|(n, _)| *n == name) {
                return Err(format!("{} given twice", name));
            }
            let value = inline
                .or_else(|| it.next().cloned())
                .ok_or(format!("{} needs a value", name))?;
            found.push((name, value));
        }
        Ok(Flags(found))
    }

    pub fn take(&mut self, name: &str) -> Option<OsString> {
        let i = self.0.iter().position(|(n, _)| *n == name)?;
        Some(self.0.remove(i).1)
    }

    pub fn required(&mut self, name: &str, command: &str) -> Result<OsString, String> {
        let what = match name {
            "--bundle" => "DIR",
            "--process" => "FILE",
            "--pid" => "PID",
            _ => "VALUE",
        };
        self.take(name)
            .ok_or(format!("{} needs {} {}", command, name, what))
    }

    /// `--status-fd N`: an open descriptor to write status events to.
    pub fn status_fd(&mut self) -> Result<Option<i32>, String> {
        let v = match self.take("--status-fd") {
            Some(v) => v,
            None => return Ok(None),
        };
        let fd = v
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
            .filter(|fd| *fd >= 0)
            .ok_or(format!(
                "--status-fd {}: expected a file descriptor number",
                v.to_string_lossy()
            ))?;
        if !container::sys::fd::is_open(fd) {
            return Err(format!("--status-fd {}: not an open file descriptor", fd));
        }
        Ok(Some(fd))
    }
}
