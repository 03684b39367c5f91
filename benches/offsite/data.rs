//! The offsite bench's data: ~`mb` MB of an instance's mixed data, made
//! deterministically (one seeded generator) and kept between runs, and the
//! ~1 % change applied to a working copy of it between the two copies.
//!
//! The mix is docs/offsite.md's, scaled: half incompressible uploads (5 MB
//! files), a fifth many small text files (2-14 KB, 200 to a directory), the
//! rest one SQLite database. The change is that page's "change B", doubled
//! at 800 MB (its table was measured on ~400 MB): bytes rewritten inside one
//! upload, new uploads, random row updates plus inserts in the database,
//! lines appended to some text files.

use std::io::Write;
use std::path::Path;

/// xorshift: fast, deterministic, good enough to defeat compression.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.fill(&mut buf);
        buf
    }
}

const MB: u64 = 1 << 20;
const UPLOAD: u64 = 5 * MB;
const TEXT_PER_DIR: u64 = 200;

/// How many of each part `mb` megabytes make.
struct Shape {
    uploads: u64,
    text_files: u64,
    db_bytes: u64,
}

fn shape(mb: u64) -> Shape {
    let total = mb * MB;
    Shape {
        uploads: (total / 2 / UPLOAD).max(1),
        // 8 KiB on average.
        text_files: (total / 5 / (8 << 10)).max(1),
        db_bytes: total * 3 / 10,
    }
}

/// Pseudo-words from the generator: text that compresses like prose.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    (0..500)
        .map(|_| {
            let len = 2 + rng.below(8) as usize;
            (0..len)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect()
        })
        .collect()
}

fn sentence(rng: &mut Rng, words: &[String], bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        out.push_str(&words[rng.below(words.len() as u64) as usize]);
        out.push(if rng.below(12) == 0 { '\n' } else { ' ' });
    }
    out
}

/// Makes the data in `dir` unless a finished set is there already (its
/// marker sits beside it, so the data is only the instance's).
pub fn ensure(dir: &Path, mb: u64) {
    let done = dir.with_extension("done");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    let s = shape(mb);
    let mut rng = Rng::new(0x0ff5_17e0_b3c4);
    let words = vocabulary(&mut rng);
    let uploads = dir.join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    for i in 0..s.uploads {
        std::fs::write(
            uploads.join(format!("u{i}.bin")),
            rng.bytes(UPLOAD as usize),
        )
        .unwrap();
    }
    for i in 0..s.text_files {
        let sub = dir.join("text").join(format!("d{:03}", i / TEXT_PER_DIR));
        if i % TEXT_PER_DIR == 0 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        let len = 2048 + rng.below(12 << 10) as usize;
        let text = sentence(&mut rng, &words, len);
        std::fs::write(sub.join(format!("f{:03}.txt", i % TEXT_PER_DIR)), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let db = rusqlite::Connection::open(dir.join("db/app.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, author TEXT, body TEXT, at INTEGER);",
    )
    .unwrap();
    loop {
        let size: i64 = db
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if size as u64 >= s.db_bytes {
            break;
        }
        let tx = db.unchecked_transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO messages(author, body, at) VALUES (?1, ?2, ?3)")
                .unwrap();
            for _ in 0..10_000 {
                let author = &words[rng.below(words.len() as u64) as usize];
                let len = 100 + rng.below(500) as usize;
                let body = sentence(&mut rng, &words, len);
                insert
                    .execute(rusqlite::params![author, body, (rng.next() >> 24) as i64])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    drop(db);
    std::fs::write(done, "").unwrap();
}

/// Applies the ~1 % change to `dir`, a working copy of [`ensure`]'s data;
/// the same change every time. Returns a line saying what changed.
pub fn change(dir: &Path, mb: u64) -> String {
    let s = shape(mb);
    let k = (mb / 400).max(1);
    let mut rng = Rng::new(0x00c4_a49e_000b);
    let words = vocabulary(&mut rng);
    // Bytes rewritten inside one upload (a document edited in place).
    let rewrite = (2 * k * MB).min(UPLOAD - MB);
    let upload = dir.join(format!("uploads/u{}.bin", 9 % s.uploads));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&upload)
        .unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(MB)).unwrap();
    f.write_all(&rng.bytes(rewrite as usize)).unwrap();
    drop(f);
    for i in 0..k {
        std::fs::write(
            dir.join(format!("uploads/new{i}.bin")),
            rng.bytes(MB as usize),
        )
        .unwrap();
    }
    let db = rusqlite::Connection::open(dir.join("db/app.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT max(id) FROM messages", [], |r| r.get(0))
        .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    for i in 0..100 * k {
        let body = format!("edited {i} ").repeat(10);
        tx.execute(
            "UPDATE messages SET body = ?1 WHERE id = ?2",
            rusqlite::params![body, 1 + rng.below(rows as u64) as i64],
        )
        .unwrap();
    }
    for i in 0..2000 * k {
        let body = sentence(&mut rng, &words, 200);
        tx.execute(
            "INSERT INTO messages(author, body, at) VALUES ('new', ?1, ?2)",
            rusqlite::params![body, i as i64],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(db);
    for _ in 0..20 * k {
        let i = rng.below(s.text_files);
        let path = dir.join(format!(
            "text/d{:03}/f{:03}.txt",
            i / TEXT_PER_DIR,
            i % TEXT_PER_DIR
        ));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all("appended line\n".repeat(20).as_bytes())
            .unwrap();
    }
    format!(
        "{} MB rewritten in one upload, {k} new 1 MB upload(s), {} row updates + {} inserts, \
         {} text files appended to",
        rewrite / MB,
        100 * k,
        2000 * k,
        20 * k
    )
}
