//! The processes sharing one database: each registers itself when it starts and is seen again
//! while it runs, so that `newswatch instances` can list the live ones and an instance can
//! notice that another runs a different configuration.

use super::{Result, Store, on_pool};

/// One process, as registered.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Instance {
    /// Host, pid and a random start nonce: unique even when a pid is reused.
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    /// A short hash of the configuration file's text.
    pub config_fingerprint: String,
    pub started_at: i64,
    pub last_seen: i64,
}

impl Instance {
    /// What tells one configuration file's text from another's, for `instances`.
    pub fn fingerprint_of(config: &crate::config::Config) -> String {
        crate::alert::short_hash(config.source.text().as_bytes(), 8)
    }

    /// This process, running `config`.
    pub fn of_this_process(config: &crate::config::Config) -> Instance {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        let pid = std::process::id();
        let nonce = fastrand::u32(..);
        Instance {
            id: format!("{host}:{pid}:{nonce:08x}"),
            host,
            pid: i64::from(pid),
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_fingerprint: Instance::fingerprint_of(config),
            started_at: 0,
            last_seen: 0,
        }
    }
}

impl Store {
    /// Registers `instance`, or marks it seen now (the database's clock).
    pub async fn register_instance(&self, instance: &Instance) -> Result<()> {
        on_pool!(self, pool, sql => {
            sqlx::query(sql::REGISTER_INSTANCE)
                .bind(&instance.id)
                .bind(&instance.host)
                .bind(instance.pid)
                .bind(&instance.version)
                .bind(&instance.config_fingerprint)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes `instance` as it stops cleanly: it is gone, not merely unseen for a while.
    pub async fn unregister_instance(&self, instance: &Instance) -> Result<()> {
        on_pool!(self, pool, sql => {
            sqlx::query("DELETE FROM instances WHERE id = $1")
                .bind(&instance.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The instances seen within `within`, oldest first.
    pub async fn live_instances(&self, within: std::time::Duration) -> Result<Vec<Instance>> {
        let seconds = i64::try_from(within.as_secs()).unwrap_or(i64::MAX);
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as::<_, Instance>(sql::LIVE_INSTANCES)
                .bind(seconds)
                .fetch_all(pool)
                .await?
        }))
    }
}
