//! A container's writable layer kept across its runs. The guest's overlay
//! upper dir lives in the container's tmpfs, which goes when a run ends;
//! the host (which keeps the container until `rm`) exports a directory of
//! its bundle, and the layer is saved there as a record stream (the copy
//! module's, with overlay markers — whiteouts and opaque dirs — and owners
//! as the container sees them) when the run ends, then written back into the
//! next run's upper dir before the overlay is mounted. So `restart` and `stop` + `start` find what the container
//! wrote, as docker and the native backend do; a run the guest dies under
//! loses only its own changes (the previous save is replaced by rename).

use container::copy::owners::Owners;
use container::copy::read::{self, ReadOptions};
use container::copy::write::{self, WriteOptions};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

/// The owners a user namespace with these maps sees; None without one.
pub fn owners_of(spec: &container::Spec) -> Option<Owners> {
    let (uids, gids) = (&spec.linux.uid_mappings, &spec.linux.gid_mappings);
    if uids.is_empty() && gids.is_empty() {
        return None;
    }
    Some(Owners { uids: uids.clone(), gids: gids.clone() })
}

/// Where a container's layer is, and where it is kept.
pub struct KeptLayer {
    pub upper: PathBuf,
    pub saved: PathBuf,
    /// The container's id maps: the file holds owners as the container sees
    /// them, as the native helper's view of an upper dir does, so the host
    /// reads it the same way (`diff`, `commit`). None: no user namespace.
    pub owners: Option<Owners>,
}

impl KeptLayer {
    /// Writes the saved layer (if there is one yet) into the empty upper dir.
    pub fn restore(&self) -> Result<(), String> {
        let file = match File::open(&self.saved) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("opening the container's saved layer {}: {}", self.saved.display(), e)),
        };
        let opts = WriteOptions { archive: true, markers: true, owners: self.owners.clone(), ids: None, host: false, name: None };
        write::write(&self.upper, &opts, &mut BufReader::with_capacity(1 << 16, file))
            .map_err(|e| format!("restoring the container's writable layer: {}", e.message))
    }

    /// Saves the upper dir (the container has ended): a new file, renamed
    /// over the old one once complete.
    pub fn save(&self) -> Result<(), String> {
        let partial = self.saved.with_extension("partial");
        let written = (|| {
            let mut out = BufWriter::with_capacity(1 << 16, File::create(&partial).map_err(|e| e.to_string())?);
            let opts = ReadOptions { name: Some(String::new()), markers: true, owners: self.owners.clone(), ..ReadOptions::default() };
            read::read(&self.upper, &opts, &mut out).map_err(|e| e.message)?;
            let file = out.into_inner().map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            std::fs::rename(&partial, &self.saved).map_err(|e| e.to_string())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written.map_err(|e| format!("saving the writable layer to {}: {}", self.saved.display(), e))
    }
}

/// The saved layer's path a `create` request names (`layer`), which must
/// be a file of a host export.
pub fn requested(req: &container::json::Json, exports_dir: &Path) -> Result<Option<PathBuf>, String> {
    let path = match req.get("layer").and_then(container::json::Json::as_str) {
        Some(p) => PathBuf::from(p),
        None => return Ok(None),
    };
    let inside = path.starts_with(exports_dir) && path.components().all(|c| !matches!(c, std::path::Component::ParentDir));
    if !inside || path.parent() == Some(exports_dir) {
        return Err(format!("the saved layer {} is not a file of a host export under {}", path.display(), exports_dir.display()));
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::requested;
    use crate::guest_init::HOST_MOUNT;
    use container::contract::fixture;
    use container::json::Json;
    use std::path::Path;

    #[test]
    fn contract_kept_layer() {
        let fx = fixture("kept-layer.json");
        assert_eq!(fx.get("hostMount").and_then(Json::as_str), Some(HOST_MOUNT));
        let host = Path::new(HOST_MOUNT);
        let create = fx.get("create").unwrap();
        let layer = create.get("layer").and_then(Json::as_str).unwrap();
        assert_eq!(requested(create, host).unwrap().unwrap(), Path::new(layer));
        for bad in fx.get("refused").unwrap().as_array().unwrap() {
            assert!(requested(&Json::object(vec![("layer", bad.clone())]), host).is_err(), "{}", bad);
        }
        assert!(requested(&Json::object::<&str>(vec![]), host).unwrap().is_none());
    }
}
