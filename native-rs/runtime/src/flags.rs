//! Subcommand options: `--name VALUE` or `--name=VALUE`, each at most once;
//! switches (`--name`, no value) where a subcommand declares them.

use std::ffi::OsString;

pub struct Flags(Vec<(&'static str, OsString)>);

impl Flags {
    /// Only the names in `known` are accepted (`-b` is `--bundle`'s short form).
    pub fn parse(args: &[OsString], known: &[&'static str]) -> Result<Flags, String> {
        Flags::parse_with_switches(args, known, &[])
    }

    /// `switches` take no value (`take` then gives an empty one).
    pub fn parse_with_switches(
        args: &[OsString],
        known: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Flags, String> {
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
            if let Some(switch) = switches.iter().copied().find(|k| *k == given) {
                if inline.is_some() || found.iter().any(|(n, _)| *n == switch) {
                    return Err(format!("{} takes no value and is given once", switch));
                }
                found.push((switch, OsString::new()));
                continue;
            }
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
        self.fd("--status-fd")
    }

    /// An open descriptor given by number.
    pub fn fd(&mut self, name: &str) -> Result<Option<i32>, String> {
        let v = match self.take(name) {
            Some(v) => v,
            None => return Ok(None),
        };
        let fd = v
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
            .filter(|fd| *fd >= 0)
            .ok_or(format!(
                "{} {}: expected a file descriptor number",
                name,
                v.to_string_lossy()
            ))?;
        if !container::sys::fd::is_open(fd) {
            return Err(format!("{} {}: not an open file descriptor", name, fd));
        }
        Ok(Some(fd))
    }

    /// A whole number from 1.
    pub fn number(&mut self, name: &str) -> Result<Option<u64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or(format!("{} {}: expected a whole number from 1", name, v.to_string_lossy())),
        }
    }

    pub fn switch(&mut self, name: &str) -> bool {
        self.take(name).is_some()
    }
}
