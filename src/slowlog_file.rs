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
//! Each event's id is derived from the entry itself: the log group, the entry's time and its bytes
//! (its `# Time:`, thread id, measurements and statement), plus how many identical entries with the
//! same time came before it in this run. Running the same backfill again overwrites instead of
//! duplicating, two files with the same group and stream (hourly rotations saved under one name,
//! stdin) never overwrite each other's entries, and the same entry found in two overlapping
//! downloads is indexed once. Its timestamp is the entry's `# Time:` (or `SET timestamp=`), else
//! the previous entry's, else the caller's fallback.
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
    /// Decided at the first line that is not blank: a PostgreSQL log (RDS's prefix) is split into
    /// records and their follow-ups ([`crate::postgres::group`]'s rule), not slow-log entries.
    postgres: Option<bool>,
    /// The pid of the PostgreSQL record being read: its follow-ups join it.
    pid: Option<i64>,
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
            postgres: None,
            pid: None,
        }
    }

    /// Bytes read so far (of the decompressed text, for a compressed file).
    pub fn offset(&self) -> u64 {
        self.offset
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
        // A run of NUL bytes at a line's start (a preallocated or crashed file's hole between
        // entries) is not text: dropped, so it is neither glued onto the previous entry nor hides
        // the `# Time:` that follows it.
        let line_offset = match self.line.iter().position(|&b| b != 0) {
            Some(0) => line_offset,
            Some(nuls) => {
                self.line.drain(..nuls);
                line_offset + nuls as u64
            }
            None => {
                self.line.clear();
                return None;
            }
        };
        let line = trim_line_end(&self.line);
        if self.postgres.is_none() && !line.iter().all(u8::is_ascii_whitespace) {
            self.postgres = Some(std::str::from_utf8(line).is_ok_and(|l| crate::postgres::prefix(l).is_some()));
        }
        if self.postgres == Some(true) {
            return self.push_postgres_line(line_offset);
        }
        let class = classify(line);
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let outside_entry = matches!(self.kind, Kind::Banner | Kind::Loose);
        let starts_new = self.kind != Kind::Empty
            && match class {
                LineClass::BannerStart | LineClass::Time => true,
                LineClass::BannerMore => self.kind == Kind::Entry,
                LineClass::UserHost => outside_entry || self.has_user_host || self.in_body,
                LineClass::Header => outside_entry || self.in_body,
                LineClass::Admin | LineClass::Other | LineClass::Comment => self.kind == Kind::Banner,
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
                LineClass::Admin | LineClass::Other | LineClass::Comment => Kind::Loose,
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

    /// A PostgreSQL log's line: a record's first line starts a new entry unless it is a follow-up
    /// (`DETAIL`, `STATEMENT`, …) of the same pid; any other line goes on the record.
    fn push_postgres_line(&mut self, line_offset: u64) -> Option<RawEntry> {
        let line = trim_line_end(&self.line);
        let record = std::str::from_utf8(line)
            .ok()
            .and_then(crate::postgres::prefix)
            .map(|p| (crate::postgres::is_follow_up(p.severity), p.pid));
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let mut finished = None;
        if let Some((follow_up, pid)) = record {
            if !(follow_up && self.pid == Some(pid)) {
                finished = self.take();
            }
            self.pid = Some(pid);
        }
        if self.current.is_empty() {
            if blank {
                return finished;
            }
            self.current_offset = line_offset;
            self.kind = Kind::Entry;
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
    /// Any other `#` line (`# No InnoDB statistics available for this query`, MariaDB's
    /// `# explain:` table): part of the header block, it neither starts nor ends an entry.
    Comment,
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
            LineClass::Comment
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

/// Whether `bytes` holds `# Query_time:`, `# User@Host:` or `# Time:` more than once. One pass over
/// the `#`s (a few per entry) instead of a search per needle.
fn header_twice(bytes: &[u8]) -> bool {
    const HEADERS: [&[u8]; 3] = [b"# Query_time:", b"# User@Host:", b"# Time:"];
    let mut seen = [false; 3];
    for at in memchr::memchr_iter(b'#', bytes) {
        if let Some(which) = HEADERS.iter().position(|header| bytes[at..].starts_with(header)) {
            if std::mem::replace(&mut seen[which], true) {
                return true;
            }
        }
    }
    false
}

/// Calls `each` with one event per slow-log entry in `event`'s message. CloudWatch delivers one
/// entry per event, but a message can hold several (a server that wrote two entries in one flush,
/// a hand-made or re-driven event): each becomes its own event, so each gets its own document,
/// typed fields and alert, split exactly as `slowlog` splits a file. The first keeps the event's
/// id, the k-th after it gets `<id>-<k>`; all keep the event's timestamp. Any other event (one
/// entry, extracted fields, not a slow log) is passed on as it is. Pure.
pub fn split_event(event: LogEvent, mut each: impl FnMut(LogEvent)) {
    // PostgreSQL: one document per record with its follow-ups (a DETAIL's parameters, an ERROR's
    // STATEMENT), whether CloudWatch delivered them in one event or not.
    if event.extracted_fields.is_none() && crate::postgres::looks_like(&event.message) {
        let groups = crate::postgres::group(&event.message);
        if groups.len() < 2 {
            return each(event);
        }
        for (k, group) in groups.into_iter().enumerate() {
            let id = if k == 0 { event.id.clone() } else { format!("{}-{k}", event.id) };
            each(LogEvent { id, timestamp: event.timestamp, message: group.to_owned(), extracted_fields: None });
        }
        return;
    }
    let bytes = event.message.as_bytes();
    // Cheap test first: an entry has one `# Query_time:` and at most one `# User@Host:` / `# Time:`.
    if event.extracted_fields.is_some() || !header_twice(bytes) {
        return each(event);
    }
    let entries: Vec<RawEntry> = EntrySplitter::new(bytes).map_while(Result::ok).collect();
    if entries.len() < 2 {
        return each(event);
    }
    for (k, entry) in entries.into_iter().enumerate() {
        let id = if k == 0 { event.id.clone() } else { format!("{}-{k}", event.id) };
        each(LogEvent { id, timestamp: event.timestamp, message: entry.text, extracted_fields: None });
    }
}

/// A log file to read, decompressed when it is gzip (told by its first two bytes, `1f 8b`, not
/// its name: `aws logs` and log rotation name files every way). Concatenated gzip members (a
/// rotated file appended to) are read one after another.
pub fn open_log<R: BufRead + 'static>(mut reader: R) -> io::Result<Box<dyn BufRead>> {
    // The first two bytes, however the reader hands them over (a pipe may give one at a time).
    let mut magic = Vec::with_capacity(2);
    while magic.len() < 2 {
        let buffer = match reader.fill_buf() {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer.is_empty() {
            break;
        }
        let n = buffer.len().min(2 - magic.len());
        magic.extend_from_slice(&buffer[..n]);
        reader.consume(n);
    }
    let gzip = magic == [0x1f, 0x8b];
    let whole = io::Read::chain(io::Cursor::new(magic), reader);
    if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(whole);
        Ok(Box::new(io::BufReader::with_capacity(1 << 16, decoder)))
    } else {
        Ok(Box::new(whole))
    }
}

/// An entry's own time: a PostgreSQL record's prefix, else the slow-log entry's `# Time:` /
/// `SET timestamp=`.
pub fn entry_time(text: &str) -> Option<i64> {
    match crate::postgres::looks_like(text) {
        true => crate::postgres::record_time_millis(text),
        false => slowlog::entry_time_millis(text),
    }
}

/// Turns entries into log events: ids from the entries themselves, timestamps from the entries.
pub struct EventMaker {
    group: [u8; 16],
    last_time: i64,
    /// Entries already seen at `last_time` (digest → how many): identical entries at one time are
    /// told apart by their order. Cleared when the time moves, so it holds one second's worth.
    seen_at_time: std::collections::HashMap<[u8; 16], u32>,
    /// [`EventMaker::push`]: an entry with a time of its own was seen (or the wait was given up).
    dated: bool,
    /// [`EventMaker::push`]: the entries before the first dated one, waiting for its time.
    pending: Vec<RawEntry>,
    pending_bytes: usize,
}

/// How much of a file's start [`EventMaker::push`] holds back waiting for a time: more undated
/// text than this is not a banner but a file without times, dated by the fallback.
const MAX_PENDING_ENTRIES: usize = 1000;
const MAX_PENDING_BYTES: usize = 4 << 20;

impl EventMaker {
    /// `fallback_time_ms` dates entries before the first one that carries a time (the file's
    /// modification time, in the CLI). The log stream is not part of the id (it only names the
    /// documents' `@log_stream`), so where a file came from does not change its entries' ids.
    pub fn new(log_group: &str, fallback_time_ms: i64) -> Self {
        let group = Md5::digest(log_group.as_bytes()).into();
        EventMaker {
            group,
            last_time: fallback_time_ms,
            seen_at_time: std::collections::HashMap::new(),
            dated: false,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Entries in, events out to `out`, in the file's order; [`EventMaker::finish`] at the end. A
    /// banner or other lines before the first entry with a time take that entry's time (a
    /// backfill's start-up banner belongs to the day of the file, not to when it was downloaded);
    /// only when no entry in the first 1000 (or 4 MiB) has a time does the fallback date them.
    pub fn push(&mut self, entry: RawEntry, out: &mut impl FnMut(LogEvent)) {
        if !self.dated {
            match entry_time(&entry.text) {
                Some(time) => {
                    self.dated = true;
                    self.last_time = time;
                    self.flush(out);
                }
                None => {
                    self.pending_bytes += entry.text.len();
                    self.pending.push(entry);
                    if self.pending.len() >= MAX_PENDING_ENTRIES || self.pending_bytes >= MAX_PENDING_BYTES {
                        self.dated = true;
                        self.flush(out);
                    }
                    return;
                }
            }
        }
        out(self.event(entry));
    }

    /// The entries still held back by [`EventMaker::push`] (a file with no time at all), dated by
    /// the fallback.
    pub fn finish(&mut self, out: &mut impl FnMut(LogEvent)) {
        self.flush(out);
    }

    fn flush(&mut self, out: &mut impl FnMut(LogEvent)) {
        self.pending_bytes = 0;
        for entry in std::mem::take(&mut self.pending) {
            out(self.event(entry));
        }
    }

    pub fn event(&mut self, entry: RawEntry) -> LogEvent {
        let time = entry_time(&entry.text).unwrap_or(self.last_time);
        if time != self.last_time {
            self.seen_at_time.clear();
            self.last_time = time;
        }
        let mut hash = Md5::new();
        hash.update(self.group);
        hash.update(time.to_be_bytes());
        hash.update(entry.text.as_bytes());
        let entry_digest: [u8; 16] = hash.finalize().into();
        let occurrence = self.seen_at_time.entry(entry_digest).or_insert(0);
        let mut hash = Md5::new();
        hash.update(entry_digest);
        hash.update(occurrence.to_be_bytes());
        *occurrence += 1;
        let digest = hash.finalize();
        LogEvent {
            // _id from the entry, not its place in a file: a re-run overwrites, another file never does.
            id: digest.iter().fold(String::with_capacity(32), |mut id, b| {
                id.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                id.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
                id
            }),
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
    fn a_banner_before_the_first_entry_takes_its_time_not_the_fallback() {
        let file = b"/rdsdbbin/mysql/bin/mysqld, Version: 8.0.39 (Source distribution). started with:\n\
Tcp port: 3306  Unix socket: /tmp/mysql.sock\n\
Time                 Id Command    Argument\n\
# Time: 2026-11-21T10:15:30.123456Z\n\
# User@Host: app[app] @  [10.0.1.23]  Id:   123\n\
# Query_time: 5.1  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 10\n\
SET timestamp=1795256130;\n\
SELECT 1;\n";
        let entry_time = 1_795_256_130_123;
        let mut maker = EventMaker::new("/g", 42);
        let mut events = Vec::new();
        for entry in split(file) {
            maker.push(entry, &mut |e| events.push(e));
        }
        maker.finish(&mut |e| events.push(e));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].message.contains("started with:"));
        assert_eq!(events.iter().map(|e| e.timestamp).collect::<Vec<_>>(), [entry_time, entry_time]);

        // No time anywhere: the fallback, once the file ends.
        let mut maker = EventMaker::new("/g", 42);
        let mut events = Vec::new();
        for entry in split(b"a banner\nTime  Id Command  Argument\n") {
            maker.push(entry, &mut |e| events.push(e));
        }
        assert!(events.is_empty(), "held back until a time or the end");
        maker.finish(&mut |e| events.push(e));
        assert!(!events.is_empty() && events.iter().all(|e| e.timestamp == 42));
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
    fn a_block_of_nul_bytes_between_entries_is_dropped() {
        let mut log = b"# Time: 2026-11-21T10:00:00Z\n# User@Host: a[a] @ localhost []  Id: 3\n# Query_time: 1.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n".to_vec();
        log.extend(std::iter::repeat_n(0u8, 4096));
        let second = log.len();
        log.extend(b"# Time: 2026-11-21T10:00:05Z\n# User@Host: b[b] @ localhost []  Id: 4\n# Query_time: 2.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 2;\n");
        log.extend(std::iter::repeat_n(0u8, 100));
        let entries = split(&log);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(entries[0].text.ends_with("SELECT 1;\n"), "{:?}", entries[0].text);
        assert!(entries[1].text.starts_with("# Time: 2026-11-21T10:00:05Z"), "{:?}", &entries[1].text[..40]);
        assert!(!entries[1].text.contains('\0'));
        assert_eq!(entries[1].offset as usize, second, "the offset is where the text starts");
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
        let events = || -> Vec<LogEvent> {
            let mut maker = EventMaker::new("/g", 7);
            split(log).into_iter().map(|e| maker.event(e)).collect()
        };
        let (a, b) = (events(), events());
        assert_eq!(a, b);
        assert_ne!(a[0].id, a[1].id);
        assert_eq!(a[0].timestamp, 1_469_038_405_698);
        assert_eq!(a[1].timestamp, 1_469_038_405_698, "no # Time: carries the previous one forward");
    }

    #[test]
    fn ids_come_from_the_entries_so_two_files_of_one_stream_never_collide() {
        let events = |group: &str, log: &[u8]| -> Vec<String> {
            let mut maker = EventMaker::new(group, 7);
            split(log).into_iter().map(|e| maker.event(e).id).collect()
        };
        let ten = b"# Time: 2026-11-21T10:00:01.000001Z\n# User@Host: a[a] @ h []  Id: 3\n# Query_time: 1\nSELECT 1;\n";
        let eleven =
            b"# Time: 2026-11-21T11:00:01.000001Z\n# User@Host: a[a] @ h []  Id: 3\n# Query_time: 1\nSELECT 1;\n";
        let (a, b) = (events("/g", ten), events("/g", eleven));
        assert_ne!(a, b, "same offset, same stream, other entries: other ids");
        assert_ne!(events("/g", ten), events("/other", ten), "the log group is part of the id");
        // The same entry inside a longer download (another offset) keeps its id.
        let mut both = ten.to_vec();
        both.extend_from_slice(eleven);
        assert_eq!(events("/g", &both), [a[0].clone(), b[0].clone()]);
    }

    #[test]
    fn identical_entries_at_one_time_get_ids_of_their_own() {
        let log = b"# Time: 2026-11-21T10:00:01Z\n# Query_time: 1\nSELECT 1;\n# Query_time: 1\nSELECT 1;\n# Query_time: 1\nSELECT 1;\n";
        let mut maker = EventMaker::new("/g", 0);
        let ids: Vec<String> = split(log).into_iter().map(|e| maker.event(e).id).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "{ids:?}");
    }

    #[test]
    fn an_event_holding_two_entries_becomes_two_events() {
        let message = "# Time: 2026-11-21T10:15:31.402Z\n# User@Host: app[app] @ [10.0.0.1]  Id: 3\n# Query_time: 1.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 9\nSELECT 1;\n# User@Host: batch[batch] @ [10.0.0.2]  Id: 4\n# Query_time: 99  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 9\nSELECT 2;";
        let event = LogEvent { id: "37".into(), timestamp: 5, message: message.into(), extracted_fields: None };
        let mut events = Vec::new();
        split_event(event, |e| events.push(e));
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["37", "37-1"]);
        assert!(events[0].message.ends_with("SELECT 1;\n") && events[1].message.starts_with("# User@Host: batch"));
        assert_eq!(slowlog::parse(&events[1].message).unwrap().query_time, Some(99.0));
        assert!(events.iter().all(|e| e.timestamp == 5));
        // One entry: the event itself, untouched.
        let single = LogEvent {
            id: "1".into(),
            timestamp: 5,
            message: "# Query_time: 1\nSELECT 1;".into(),
            extracted_fields: None,
        };
        let mut events = Vec::new();
        split_event(single.clone(), |e| events.push(e));
        assert_eq!(events, [single]);
    }

    #[test]
    fn a_second_header_line_of_any_kind_marks_several_entries() {
        let one = "# Time: 2026-11-21T10:15:31Z\n# User@Host: a[a] @ [10.0.0.1]\n# Query_time: 1\nSELECT '#', 1 # Query_time\n";
        assert!(!header_twice(one.as_bytes()));
        for second in ["# Time: 2026-11-21T10:15:32Z\n", "# User@Host: b[b] @ []\n", "# Query_time: 2\n"] {
            assert!(header_twice(format!("{one}{second}").as_bytes()), "{second}");
        }
        assert!(!header_twice(b""));
        assert!(!header_twice(b"#####"));
    }
}
