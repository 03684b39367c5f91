//! `berth client export`: the GDPR export document on stdout, or the tar
//! bundle with the instances' newest backup archives in a file.

use std::io::Write;
use std::path::PathBuf;

use super::error::Failure;
use crate::audit::Actor;
use crate::ops::Ops;

pub async fn client(
    ops: &Ops,
    actor: &Actor,
    slug: &str,
    archives: Option<PathBuf>,
) -> Result<(), Failure> {
    let Some(file) = archives else {
        let export = ops.export_client(actor, slug).await?;
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &export).map_err(Failure::failed)?;
        writeln!(out).map_err(Failure::failed)?;
        return Ok(());
    };
    let bundle = ops.export_bundle(actor, slug).await?;
    let count = bundle.archives.len();
    let target = file.clone();
    tokio::task::spawn_blocking(move || {
        let out = std::fs::File::create(&target)?;
        let mut out = std::io::BufWriter::new(out);
        bundle.write_to(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })
    .await
    .map_err(Failure::failed)?
    .map_err(|e| Failure::failed(format!("writing {}: {e}", file.display())))?;
    println!(
        "Exported client {slug} with {count} backup archive(s) to {}",
        file.display()
    );
    Ok(())
}
