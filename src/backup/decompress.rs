//! Decompression on its own thread, feeding the reader of the tar stream
//! (like `zstd -d | tar -x`), so a restore uses two cores.

use std::fs::File;
use std::io::{self, Read};
use std::thread::JoinHandle;

const BUF: usize = 1 << 20;

/// Starts decoding `file` on a thread; the reader yields what it decoded,
/// in order, and ends (or fails) where the archive does. Dropping the
/// reader stops the thread at its next chunk.
pub(super) fn spawn(file: File) -> io::Result<(ChannelReader, JoinHandle<()>)> {
    let mut decoder = zstd::stream::read::Decoder::new(file)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
    let producer = std::thread::spawn(move || loop {
        let mut buf = vec![0u8; BUF];
        let mut filled = 0;
        let result = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(filled);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    let reader = ChannelReader {
        rx,
        current: Vec::new(),
        pos: 0,
    };
    Ok((reader, producer))
}

/// Reads the decompressed chunks the producer thread sends.
pub(super) struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.current = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
