#!/usr/bin/env bash
# Reproduces the dedup figures in docs/offsite.md: ~376 MB of mixed data
# (random "uploads", system text and libraries, a SQLite database) copied
# to restic as a directory, an uncompressed tar stream and a zstd archive,
# then again after change A and change B. Needs restic, zstd, python3, bc.
# Usage: scripts/offsite-dedup.sh [WORKDIR]   (default /tmp/offsite-dedup)
# Offsite dedup measurement: directory vs uncompressed tar stream vs zstd archive.
set -euo pipefail
W=${1:-/tmp/offsite-dedup}; mkdir -p "$W"; cd "$W"; export W
rm -rf data repo-* pw; echo measure-pw > pw
export RESTIC_PASSWORD_FILE=$W/pw RESTIC_CACHE_DIR=$W/cache
mkdir -p data/uploads data/text data/db
# ~150 MB incompressible (uploads, images)
for i in $(seq 1 30); do head -c 5M /dev/urandom > data/uploads/u$i.bin; done
# ~100 MB text/binaries from the system
cp -r /usr/share/doc data/text/doc 2>/dev/null || true
cp -r /usr/lib/x86_64-linux-gnu/perl* data/text/ 2>/dev/null || true
cp -r /usr/share/perl data/text/ 2>/dev/null || true
# ~50 MB sqlite
python3 - <<'PY'
import sqlite3, os, random, string
c=sqlite3.connect(os.environ['W']+'/data/db/app.db')
c.execute('create table t(id integer primary key, body text)')
r=random.Random(1)
for i in range(200000):
    c.execute('insert into t(body) values(?)',(''.join(r.choices(string.ascii_letters+' ',k=220)),))
c.commit()
PY
du -sh data; du -sb data | cut -f1 > size1
mk() { restic init -q -r $W/repo-$1 >/dev/null; }
bk() { # name, round
  case $1 in
    dir) (cd $W && restic -r $W/repo-dir backup --json --host m data | tail -1) ;;
    tar) tar -C $W -cf - data | restic -r $W/repo-tar backup --json --host m --stdin --stdin-filename data.tar | tail -1 ;;
    zst) tar -C $W -cf - data | zstd -q -3 -c | restic -r $W/repo-zst backup --json --host m --stdin --stdin-filename data.tar.zst | tail -1 ;;
  esac
}
for k in dir tar zst; do mk $k; s=$(date +%s.%N); bk $k > r1-$k.json; e=$(date +%s.%N); echo "$k round1 $(echo "$e - $s" | bc)s $(cat r1-$k.json)"; done
# ~1 % change: 1 MB rewritten inside one upload, one new 1 MB upload, 2 % of db rows updated, text appends
python3 - <<'PY'
import os, sqlite3, random
p=os.environ['W']+'/data/uploads/u7.bin'
with open(p,'r+b') as f: f.seek(2*1024*1024); f.write(os.urandom(1024*1024))
open(os.environ['W']+'/data/uploads/new.bin','wb').write(os.urandom(1024*1024))
c=sqlite3.connect(os.environ['W']+'/data/db/app.db'); r=random.Random(2)
for i in range(4000): c.execute('update t set body=? where id=?',('changed %d'%i*10, r.randint(1,200000)))
c.commit()
import glob
for f in sorted(glob.glob(os.environ['W']+'/data/text/doc/*/copyright'))[:50]:
    open(f,'a').write('appended line\n'*20)
PY
for k in dir tar zst; do s=$(date +%s.%N); bk $k > r2-$k.json; e=$(date +%s.%N); echo "$k change-A $(echo "$e - $s" | bc)s $(cat r2-$k.json)"; done
for k in dir tar zst; do echo "$k repo $(du -sb repo-$k | cut -f1)"; done
# Change B (about 1 %)
python3 - <<'PY'
import os, sqlite3, random
p=os.environ['W']+'/data/uploads/u9.bin'
with open(p,'r+b') as f: f.seek(1024*1024); f.write(os.urandom(2*1024*1024))
open(os.environ['W']+'/data/uploads/new3.bin','wb').write(os.urandom(1024*1024))
c=sqlite3.connect(os.environ['W']+'/data/db/app.db'); r=random.Random(3)
for i in range(100): c.execute('update t set body=? where id=?',('round3 %d'%i*10, r.randint(1,200000)))
for i in range(2000): c.execute('insert into t(body) values(?)',('new row %d '%i*20,))
c.commit()
import glob
for f in sorted(glob.glob(os.environ['W']+'/data/text/doc/*/copyright'))[100:120]:
    open(f,'a').write('appended line\n'*20)
PY
for k in dir tar zst; do
  s=$(date +%s.%N)
  case $k in
    dir) r=$(restic -r $W/repo-dir backup --json --host m data | tail -1) ;;
    tar) r=$(tar -C $W -cf - data | restic -r $W/repo-tar backup --json --host m --stdin --stdin-filename data.tar | tail -1) ;;
    zst) r=$(tar -C $W -cf - data | zstd -q -3 -c | restic -r $W/repo-zst backup --json --host m --stdin --stdin-filename data.tar.zst | tail -1) ;;
  esac
  e=$(date +%s.%N); echo "$k change-B $(echo "$e - $s" | bc)s $r"
done
