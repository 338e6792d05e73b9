//! The container's log: docker's json-file format, one JSON object a line
//! (`{"log":"text\n","stream":"stdout","time":"…Z"}`), in
//! `<bundle>/container.log`, rotated to `container.log.1` … once it would
//! grow past `max_size`, keeping `max_files` files in all. Readers
//! (src/containers/logs.ts) read the rotated files oldest first.
//!
//! Output is logged as it arrives: each line is an entry, and a read that
//! ends inside a line makes a partial entry (no trailing newline), so
//! nothing waits for a newline that may never come and concatenating the
//! entries gives back the exact bytes. Bytes that are not UTF-8 become
//! U+FFFD, as in docker; a character cut between two reads is kept whole.

use crate::timefmt;
use container::json::Json;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const FILE_NAME: &str = "container.log";
/// Made once a rotation drops the oldest file (src/containers/logs.ts LOG_TRUNCATED).
pub const TRUNCATED: &str = "container.log.truncated";
/// Made once a write fails (a full disk): output went missing from the log (src/containers/logs.ts LOG_INCOMPLETE).
pub const INCOMPLETE: &str = "container.log.incomplete";
/// Rotation when a caller names none (src/containers/state.ts DEFAULT_LOG, which
/// the front end always passes, is the same).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MAX_FILES: u32 = 3;

pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    /// Per stream (stdout, stderr): the start of a UTF-8 character cut by a read.
    carry: [Vec<u8>; 2],
    /// INCOMPLETE is made (tried again at the next failure until it is).
    incomplete_marked: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl LogFile {
    pub fn open(dir: &Path, max_size: u64, max_files: u32) -> io::Result<LogFile> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path,
            file,
            size,
            max_size,
            max_files: std::cmp::max(max_files, 1),
            carry: [Vec::new(), Vec::new()],
            incomplete_marked: false,
        })
    }

    /// Logs what one read of `stream` returned.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: SystemTime) -> io::Result<()> {
        let carry = &mut self.carry[stream as usize];
        let mut bytes = std::mem::take(carry);
        bytes.extend_from_slice(data);
        let keep = incomplete_tail(&bytes);
        *carry = bytes.split_off(bytes.len() - keep);
        let time = timefmt::iso_nanos(now);
        let entries: Vec<String> = bytes.split_inclusive(|b| *b == b'\n').map(|line| entry(stream, line, &time)).collect();
        self.append(&entries)
    }

    /// What is still held (a cut character at the end of the output) goes out as is.
    pub fn flush_stream(&mut self, stream: Stream, now: SystemTime) -> io::Result<()> {
        let rest = std::mem::take(&mut self.carry[stream as usize]);
        if rest.is_empty() {
            return Ok(());
        }
        self.append(&[entry(stream, &rest, &timefmt::iso_nanos(now))])
    }

    /// Appends entries with one write where they fit. Rotation is decided per
    /// entry, as docker's json-file does: a file passes `max_size` only by an
    /// entry that alone is larger (one read of short lines made a file 200x
    /// `max_size` when it was decided per read).
    fn append(&mut self, entries: &[String]) -> io::Result<()> {
        let written = self.append_entries(entries);
        // Lost output is said by `logs` (docker's daemon only logs the error where no user looks).
        if written.is_err() && !self.incomplete_marked {
            self.incomplete_marked = OpenOptions::new().create(true).append(true).open(self.path.with_file_name(INCOMPLETE)).is_ok();
        }
        written
    }

    fn append_entries(&mut self, entries: &[String]) -> io::Result<()> {
        let mut out = Vec::new();
        for e in entries {
            let size = self.size + out.len() as u64;
            if size > 0 && size + e.len() as u64 > self.max_size {
                self.write_out(&out)?;
                out.clear();
                self.rotate()?;
            }
            out.extend_from_slice(e.as_bytes());
        }
        self.write_out(&out)
    }

    /// Cut short (a full disk): the entries written whole stay and the part of
    /// the next one goes, so the next write does not continue half a line
    /// (which readers skip, losing it too) and only what did not fit is lost
    /// (going back to before the whole write lost up to a read's worth, ~2 MB
    /// of short lines, and never filled the disk). O_APPEND writes at the new end.
    fn write_out(&mut self, out: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < out.len() {
            match self.file.write(&out[written..]) {
                Ok(0) => return Err(self.keep_whole(out, written, io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.keep_whole(out, written, e)),
            }
        }
        self.size += out.len() as u64;
        Ok(())
    }

    fn keep_whole(&mut self, out: &[u8], written: usize, e: io::Error) -> io::Error {
        let whole = whole_entries(&out[..written]) as u64;
        let _ = self.file.set_len(self.size + whole);
        self.size += whole;
        e
    }

    /// container.log.(n-1) → .n, …, container.log → .1; the oldest beyond
    /// `max_files` is dropped. Readers that have a file open keep reading it.
    fn rotate(&mut self) -> io::Result<()> {
        let name = |i: u32| PathBuf::from(format!("{}.{}", self.path.display(), i));
        // The log loses its oldest part: readers say so (src/containers/logs.ts LOG_TRUNCATED).
        let oldest = if self.max_files == 1 { self.path.clone() } else { name(self.max_files - 1) };
        if oldest.exists() {
            let _ = OpenOptions::new().create(true).append(true).open(self.path.with_file_name(TRUNCATED));
        }
        if self.max_files == 1 {
            let _ = fs::remove_file(&self.path);
        } else {
            let _ = fs::remove_file(name(self.max_files - 1));
            for i in (1..self.max_files - 1).rev() {
                let _ = fs::rename(name(i), name(i + 1));
            }
            fs::rename(&self.path, name(1))?;
        }
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// How many bytes of `written` are whole entries (each ends with a newline; JSON escapes any in the text).
fn whole_entries(written: &[u8]) -> usize {
    written.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

fn entry(stream: Stream, line: &[u8], time: &str) -> String {
    let text = String::from_utf8_lossy(line).into_owned();
    let json = Json::object(vec![
        ("log", Json::from(text)),
        ("stream", Json::from(stream.name())),
        ("time", Json::from(time)),
    ]);
    format!("{}\n", json)
}

/// How many bytes at the end start a UTF-8 character that is not complete yet.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=std::cmp::min(3, bytes.len()) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            // A lead byte: how long its character is.
            let len = if b >= 0xF0 {
                4
            } else if b >= 0xE0 {
                3
            } else if b >= 0xC0 {
                2
            } else {
                1
            };
            return if len > back { back } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tsbox-logfile-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The entries test/fixtures/contract/log-lines.json expects (shared with src/containers/log-writer.ts).
    #[test]
    fn contract_log_lines() {
        let f = container::json::parse(include_str!("../../../../test/fixtures/contract/log-lines.json")).unwrap();
        for case in f.get("cases").and_then(Json::as_array).unwrap() {
            let dir = temp_dir("contract");
            let mut log = LogFile::open(&dir, 1 << 20, 1).unwrap();
            for w in case.get("writes").and_then(Json::as_array).unwrap() {
                let w = w.as_array().unwrap();
                let stream = if w[0].as_str() == Some("stderr") { Stream::Stderr } else { Stream::Stdout };
                let hex = w[1].as_str().unwrap();
                let bytes: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
                log.write(stream, &bytes, UNIX_EPOCH).unwrap();
            }
            let text = fs::read_to_string(dir.join(FILE_NAME)).unwrap();
            assert!(text.lines().all(|l| l.ends_with(r#","time":"1970-01-01T00:00:00.000000000Z"}"#)), "{}", text);
            let got: Vec<(String, String)> = text
                .lines()
                .map(|l| container::json::parse(l).unwrap())
                .map(|v| (v.get("stream").and_then(Json::as_str).unwrap().to_string(), v.get("log").and_then(Json::as_str).unwrap().to_string()))
                .collect();
            let want: Vec<(String, String)> = case
                .get("entries")
                .and_then(Json::as_array)
                .unwrap()
                .iter()
                .map(|e| (e.as_array().unwrap()[0].as_str().unwrap().to_string(), e.as_array().unwrap()[1].as_str().unwrap().to_string()))
                .collect();
            assert_eq!(got, want, "{}", case.get("name").and_then(Json::as_str).unwrap());
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// One read of many lines still rotates per entry (the fixture's `rotation`, shared with log-writer.ts).
    #[test]
    fn contract_rotation_per_entry() {
        let f = container::json::parse(include_str!("../../../../test/fixtures/contract/log-lines.json")).unwrap();
        let r = f.get("rotation").unwrap();
        let num = |k: &str| r.get(k).and_then(Json::as_number).and_then(|n| n.as_u64()).unwrap();
        let dir = temp_dir("per-entry");
        let mut log = LogFile::open(&dir, num("maxSize"), num("maxFiles") as u32).unwrap();
        let hex = r.get("write").and_then(Json::as_array).unwrap()[1].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        log.write(Stream::Stdout, &bytes, UNIX_EPOCH).unwrap();
        let files = r.get("files").unwrap();
        for name in ["container.log", "container.log.1"] {
            let text = fs::read_to_string(dir.join(name)).unwrap();
            assert!(text.len() as u64 <= num("maxSize"), "{}: {} bytes", name, text.len());
            let got: Vec<String> = text.lines().map(|l| container::json::parse(l).unwrap().get("log").and_then(Json::as_str).unwrap().to_string()).collect();
            let want: Vec<String> = files.get(name).and_then(Json::as_array).unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
            assert_eq!(got, want, "{}", name);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cut_write_keeps_its_whole_entries() {
        let a = entry(Stream::Stdout, b"one\n", "t");
        let b = entry(Stream::Stderr, b"two\n", "t");
        let both = format!("{}{}", a, b);
        let bytes = both.as_bytes();
        assert_eq!(whole_entries(&bytes[..a.len() - 1]), 0);
        assert_eq!(whole_entries(&bytes[..a.len()]), a.len());
        assert_eq!(whole_entries(&bytes[..a.len() + 3]), a.len());
        assert_eq!(whole_entries(bytes), bytes.len());
    }

    #[test]
    fn a_failed_write_marks_the_log_incomplete() {
        let dir = temp_dir("incomplete");
        let mut log = LogFile::open(&dir, 1 << 20, 3).unwrap();
        log.write(Stream::Stdout, b"kept\n", UNIX_EPOCH).unwrap();
        assert!(!dir.join(INCOMPLETE).exists());
        // A descriptor that refuses writes stands in for a full disk.
        log.file = File::open(dir.join(FILE_NAME)).unwrap();
        assert!(log.write(Stream::Stdout, b"lost\n", UNIX_EPOCH).is_err());
        // The name both sides read (test/fixtures/contract/data-layout.json).
        let layout = container::json::parse(include_str!("../../../../test/fixtures/contract/data-layout.json")).unwrap();
        assert_eq!(layout.get("logIncomplete").and_then(Json::as_str), Some(INCOMPLETE));
        assert!(dir.join(INCOMPLETE).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_mark_while_nothing_was_dropped() {
        let dir = temp_dir("kept");
        let mut log = LogFile::open(&dir, 200, 3).unwrap();
        for i in 0..6 {
            log.write(Stream::Stdout, format!("line {}\n", i).as_bytes(), UNIX_EPOCH).unwrap();
        }
        assert!(dir.join("container.log.1").exists());
        assert!(!dir.join(TRUNCATED).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotates_keeping_max_files() {
        let dir = temp_dir("rotate");
        let t = UNIX_EPOCH;
        let mut log = LogFile::open(&dir, 200, 3).unwrap();
        for i in 0..20 {
            log.write(Stream::Stdout, format!("line {}\n", i).as_bytes(), t).unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        // Lines 0.. went with the dropped files: the mark says so (test/fixtures/contract/data-layout.json).
        assert_eq!(names, vec!["container.log", "container.log.1", "container.log.2", TRUNCATED]);
        let layout = container::json::parse(include_str!("../../../../test/fixtures/contract/data-layout.json")).unwrap();
        assert_eq!(layout.get("logTruncated").and_then(Json::as_str), Some(TRUNCATED));
        for name in names.iter().filter(|n| n.as_str() != TRUNCATED) {
            assert!(fs::metadata(dir.join(name)).unwrap().len() <= 200);
        }
        // The newest line is in the current file, older ones in .1, .2.
        assert!(fs::read_to_string(dir.join("container.log")).unwrap().contains("line 19"));
        assert!(!fs::read_to_string(dir.join("container.log.2")).unwrap().contains("line 0\\n"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
