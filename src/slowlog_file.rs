//! A raw slow-log file → entries, and entries → log events as if CloudWatch had delivered them.
//!
//! Files come from `aws rds download-db-log-file-portion` or straight from a MySQL/MariaDB server.
//! The splitter follows pt-query-digest's notion of an entry: a `# Time:` line always starts one;
//! `# User@Host:` starts one unless the entry has only seen `# Time:` so far; any other header
//! line starts one once the current entry has a statement. The server's start-up banner
//! (`mysqld, Version: … started with:`, `Tcp port: …`, `Time  Id Command  Argument`) is an entry of
//! its own wherever it appears, and lines before the first header are one too, so nothing in the
//! file is dropped. Bytes that are not UTF-8 are replaced (U+FFFD), never fatal.
//!
//! Each event's id is derived from the log group, the log stream and the entry's byte offset, so
//! running the same backfill again overwrites instead of duplicating. Its timestamp is the entry's
//! `# Time:` (or `SET timestamp=`), else the previous entry's, else the caller's fallback.
//!
//! Streams: holds one entry at a time, so files of any size work.

use crate::event::LogEvent;
use crate::slowlog;
use md5::{Digest, Md5};
use std::io::{self, BufRead};

/// One entry and where it starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub offset: u64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Banner,
    /// Lines that are not part of an entry with headers.
    Loose,
    Entry,
}

/// Splits a slow-log stream into entries.
pub struct EntrySplitter<R> {
    reader: R,
    offset: u64,
    line: Vec<u8>,
    current: Vec<u8>,
    current_offset: u64,
    kind: Kind,
    has_user_host: bool,
    in_body: bool,
    done: bool,
}

impl<R: BufRead> EntrySplitter<R> {
    pub fn new(reader: R) -> Self {
        EntrySplitter {
            reader,
            offset: 0,
            line: Vec::new(),
            current: Vec::new(),
            current_offset: 0,
            kind: Kind::Empty,
            has_user_host: false,
            in_body: false,
            done: false,
        }
    }

    /// Ends the current entry; returns it unless it is only whitespace.
    fn take(&mut self) -> Option<RawEntry> {
        let bytes = std::mem::take(&mut self.current);
        let entry = RawEntry { offset: self.current_offset, text: String::from_utf8_lossy(&bytes).into_owned() };
        self.kind = Kind::Empty;
        self.has_user_host = false;
        self.in_body = false;
        (!entry.text.trim().is_empty()).then_some(entry)
    }

    /// Adds the current line to the entry, first ending the entry when the line starts a new one.
    fn push_line(&mut self, line_offset: u64) -> Option<RawEntry> {
        let line = trim_line_end(&self.line);
        let class = classify(line);
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let outside_entry = matches!(self.kind, Kind::Banner | Kind::Loose);
        let starts_new = self.kind != Kind::Empty
            && match class {
                LineClass::BannerStart | LineClass::Time => true,
                LineClass::BannerMore => self.kind == Kind::Entry,
                LineClass::UserHost => outside_entry || self.has_user_host || self.in_body,
                LineClass::Header => outside_entry || self.in_body,
                LineClass::Admin | LineClass::Other => self.kind == Kind::Banner,
            };
        let finished = if starts_new { self.take() } else { None };
        if self.kind == Kind::Empty {
            if blank {
                return finished; // blank lines between entries belong to none
            }
            self.current_offset = line_offset;
            self.kind = match class {
                LineClass::BannerStart | LineClass::BannerMore => Kind::Banner,
                LineClass::Time | LineClass::UserHost | LineClass::Header => Kind::Entry,
                LineClass::Admin | LineClass::Other => Kind::Loose,
            };
        }
        match class {
            LineClass::UserHost => self.has_user_host = true,
            LineClass::Admin | LineClass::Other if self.kind == Kind::Entry => self.in_body = true,
            _ => {}
        }
        self.current.extend_from_slice(&self.line);
        finished
    }
}

impl<R: BufRead> Iterator for EntrySplitter<R> {
    type Item = io::Result<RawEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.line.clear();
            let line_offset = self.offset;
            match self.reader.read_until(b'\n', &mut self.line) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(0) => {
                    self.done = true;
                    return self.take().map(Ok);
                }
                Ok(n) => self.offset += n as u64,
            }
            if let Some(entry) = self.push_line(line_offset) {
                return Some(Ok(entry));
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineClass {
    BannerStart,
    BannerMore,
    Time,
    UserHost,
    /// A `# Key: value` header line.
    Header,
    /// `# administrator command: …;`: the statement of its entry.
    Admin,
    Other,
}

fn classify(line: &[u8]) -> LineClass {
    if let Some(header) = line.strip_prefix(b"#") {
        let header = trim_start(header);
        return if header.starts_with(b"Time:") {
            LineClass::Time
        } else if header.starts_with(b"User@Host:") {
            LineClass::UserHost
        } else if header.starts_with(b"administrator command:") {
            LineClass::Admin
        } else if is_key_value(header) {
            LineClass::Header
        } else {
            LineClass::Other
        };
    }
    if line.ends_with(b"started with:") && contains(line, b", Version: ") {
        return LineClass::BannerStart;
    }
    let lower_start: Vec<u8> = line.iter().take(9).map(u8::to_ascii_lowercase).collect();
    if lower_start.starts_with(b"tcp port:")
        || (line.starts_with(b"Time ") && contains(line, b"Id Command") && contains(line, b"Argument"))
    {
        return LineClass::BannerMore;
    }
    LineClass::Other
}

/// `Query_time: …`, `Thread_id: …`, `Schema: …`: an upper-case key, then a colon.
fn is_key_value(header: &[u8]) -> bool {
    let key_len = header.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
    key_len > 0 && header[0].is_ascii_uppercase() && header.get(key_len) == Some(&b':')
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|b| !matches!(b, b'\n' | b'\r')).map_or(0, |i| i + 1);
    &line[..end]
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Turns entries into log events: ids from the file offset, timestamps from the entries.
pub struct EventMaker {
    id_base: String,
    last_time: i64,
}

impl EventMaker {
    /// `fallback_time_ms` dates entries before the first one that carries a time (the file's
    /// modification time, in the CLI).
    pub fn new(log_group: &str, log_stream: &str, fallback_time_ms: i64) -> Self {
        let mut hash = Md5::new();
        hash.update(log_group.as_bytes());
        hash.update([0]);
        hash.update(log_stream.as_bytes());
        let digest = hash.finalize();
        let id_base = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        EventMaker { id_base, last_time: fallback_time_ms }
    }

    pub fn event(&mut self, entry: RawEntry) -> LogEvent {
        if let Some(time) = slowlog::entry_time_millis(&entry.text) {
            self.last_time = time;
        }
        LogEvent {
            // _id = stream hash + offset: re-running the same backfill overwrites.
            id: format!("{}-{:012}", self.id_base, entry.offset),
            timestamp: self.last_time,
            message: entry.text,
            extracted_fields: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &[u8]) -> Vec<RawEntry> {
        EntrySplitter::new(text).collect::<io::Result<_>>().unwrap()
    }

    #[test]
    fn splits_on_time_and_user_host_lines() {
        let log = b"# Time: 2016-07-20T18:13:25.698433Z\n# User@Host: a[a] @ localhost []  Id: 3\n# Query_time: 1.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n# User@Host: b[b] @ localhost []  Id: 4\n# Query_time: 2.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 2;\n";
        let entries = split(log);
        assert_eq!(entries.len(), 2);
        assert!(entries[0].text.starts_with("# Time:") && entries[0].text.ends_with("SELECT 1;\n"));
        assert!(entries[1].text.starts_with("# User@Host: b"));
        assert_eq!(entries[1].offset as usize, log.windows(14).position(|w| w == b"# User@Host: b").unwrap());
    }

    #[test]
    fn header_after_statement_starts_a_new_entry() {
        let entries = split(b"# Query_time: 1  Lock_time: 0\nSELECT 1;\n# Query_time: 2  Lock_time: 0\nSELECT 2;\n");
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn administrator_command_ends_its_entry() {
        let entries = split(b"# User@Host: r[r] @ h []\n# Query_time: 1\n# administrator command: Quit;\n# User@Host: r[r] @ h []\n# Query_time: 1\n# administrator command: Ping;\n");
        assert_eq!(entries.len(), 2);
        assert!(entries[0].text.contains("Quit") && entries[1].text.contains("Ping"));
    }

    #[test]
    fn banner_in_the_middle_is_its_own_entry() {
        let log = b"# Time: 071218 11:48:27\n# Query_time: 1\nSELECT 1;\n/usr/sbin/mysqld, Version: 5.0.77-log (MySQL). started with:\nTcp port: 3306  Unix socket: /tmp/s.sock\nTime                 Id Command    Argument\n# Time: 071218 11:48:28\n# Query_time: 2\nSELECT 2;\n";
        let entries = split(log);
        assert_eq!(entries.len(), 3);
        assert!(entries[1].text.starts_with("/usr/sbin/mysqld") && entries[1].text.ends_with("Argument\n"));
        assert!(slowlog::parse(&entries[1].text).is_none());
    }

    #[test]
    fn lines_before_the_first_header_are_kept() {
        let entries = split(b"tail of an entry cut by the download;\n# Query_time: 1\nSELECT 1;\n");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].text, "tail of an entry cut by the download;\n");
    }

    #[test]
    fn non_utf8_bytes_are_replaced() {
        let entries = split(b"# Query_time: 1\nSELECT '\xff\xfe';\n");
        assert_eq!(entries.len(), 1);
        assert!(entries[0].text.contains('\u{FFFD}'));
    }

    #[test]
    fn ids_are_stable_and_timestamps_carry_forward() {
        let log = b"# Time: 2016-07-20T18:13:25.698Z\n# Query_time: 1\nSELECT 1;\n# User@Host: b[b] @ h []\n# Query_time: 1\nSELECT 2;\n";
        let events = |stream: &str| -> Vec<LogEvent> {
            let mut maker = EventMaker::new("/g", stream, 7);
            split(log).into_iter().map(|e| maker.event(e)).collect()
        };
        let (a, b, other) = (events("s"), events("s"), events("t"));
        assert_eq!(a, b);
        assert_ne!(a[0].id, a[1].id);
        assert_ne!(a[0].id, other[0].id);
        assert_eq!(a[0].timestamp, 1_469_038_405_698);
        assert_eq!(a[1].timestamp, 1_469_038_405_698, "no # Time: carries the previous one forward");
    }
}
