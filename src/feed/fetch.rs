//! HTTP for feeds: conditional GET, a time bound on the whole exchange, a cap on the decoded
//! body size (streamed and cut, never buffered whole), redirects followed by hand so loops,
//! non-http targets and permanent moves are seen, and an identifying User-Agent.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::{self, HeaderMap};

use crate::log_text::untrusted;
use reqwest::{Client, StatusCode, redirect};

/// Most redirects followed for one poll.
pub const MAX_REDIRECTS: usize = 5;

/// How the fetcher behaves.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
}

/// What is known of a feed's last response, for a conditional request.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful exchange.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub final_url: String,
    /// Set when every redirect on the way was permanent (301/308): the feed has moved.
    pub moved_to: Option<String>,
    pub body: FetchedBody,
    /// How long the server says the response stays fresh (Cache-Control max-age, Expires).
    pub fresh_for: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum FetchedBody {
    /// 304: nothing new since the validators we sent.
    NotModified,
    Content {
        bytes: Vec<u8>,
        /// The charset parameter of Content-Type.
        charset: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Why a fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("response body exceeds max_body ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("redirect loop through {0}")]
    RedirectLoop(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("refused redirect to {0:?} (only http and https are followed)")]
    BadRedirect(String),
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    /// The wait the server asked for (429/503 with Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A reqwest error said briefly: what failed, and its innermost cause ("cannot connect:
/// Connection refused (os error 111)"). The URL is the feed's, known to whoever reads this.
fn network_error(error: &reqwest::Error) -> FetchError {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else if error.is_redirect() {
        "redirect failed"
    } else {
        "request failed"
    };
    FetchError::Network(format!("{what}: {cause}"))
}

/// The feed fetcher, one per daemon (it pools connections).
#[derive(Clone)]
pub struct Fetcher {
    client: Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(15)))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| network_error(&e))?;
        Ok(Self { client, settings })
    }

    /// Fetches a feed; the whole exchange, redirects and body included, is bounded by the
    /// timeout.
    pub async fn fetch(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.settings.timeout, self.fetch_following(request)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.settings.timeout)),
        }
    }

    async fn fetch_following(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        let mut url = reqwest::Url::parse(&request.url)
            .map_err(|e| FetchError::Network(format!("invalid URL {:?}: {e}", request.url)))?;
        let mut visited = HashSet::new();
        let mut all_permanent = true;
        let mut redirected = false;
        for _ in 0..=MAX_REDIRECTS {
            if !visited.insert(url.to_string()) {
                return Err(FetchError::RedirectLoop(url.to_string()));
            }
            let mut builder = self.client.get(url.clone()).header(
                header::ACCEPT,
                "application/rss+xml, application/atom+xml, application/feed+json, \
                 application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            );
            if let Some(etag) = &request.etag {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &request.last_modified {
                builder = builder.header(header::IF_MODIFIED_SINCE, last_modified);
            }
            tracing::debug!(
                url = %untrusted(&url),
                if_none_match = %untrusted(request.etag.as_deref().unwrap_or("-")),
                if_modified_since = %untrusted(request.last_modified.as_deref().unwrap_or("-")),
                "GET"
            );
            let response = builder.send().await.map_err(|e| timeout_or(&e, self))?;
            let status = response.status();
            tracing::debug!(
                status = status.as_u16(),
                content_type = %untrusted(
                    response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                ),
                content_length = response.content_length(),
                "response"
            );
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::Status {
                        status: status.as_u16(),
                        retry_after: None,
                    })?;
                let next = url
                    .join(location)
                    .map_err(|_| FetchError::BadRedirect(location.to_string()))?;
                tracing::debug!(status = status.as_u16(), to = %untrusted(&next), "redirected");
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::BadRedirect(next.to_string()));
                }
                redirected = true;
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                url = next;
                continue;
            }
            let moved_to = (redirected && all_permanent).then(|| url.to_string());
            let fresh_for = freshness(response.headers());
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched {
                    final_url: url.to_string(),
                    moved_to,
                    body: FetchedBody::NotModified,
                    fresh_for,
                });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: retry_after(response.headers()),
                });
            }
            let headers = response.headers().clone();
            let bytes = self.read_capped(response).await?;
            let text_header = |name| {
                headers
                    .get(name)
                    .and_then(|v: &header::HeaderValue| v.to_str().ok())
                    .map(str::to_string)
            };
            return Ok(Fetched {
                final_url: url.to_string(),
                moved_to,
                body: FetchedBody::Content {
                    bytes,
                    charset: text_header(header::CONTENT_TYPE)
                        .and_then(|ct| super::decode::charset_of(&ct)),
                    etag: text_header(header::ETAG),
                    last_modified: text_header(header::LAST_MODIFIED),
                },
                fresh_for,
            });
        }
        Err(FetchError::TooManyRedirects)
    }

    /// Reads the (decompressed) body chunk by chunk, failing as soon as it passes max_body.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let limit = self.settings.max_body;
        let compressed = response.headers().contains_key(header::CONTENT_ENCODING);
        if !compressed && response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| timeout_or(&e, self))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn timeout_or(error: &reqwest::Error, fetcher: &Fetcher) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout(fetcher.settings.timeout)
    } else {
        network_error(error)
    }
}

/// Retry-After: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// How long the response may be reused: Cache-Control max-age, else Expires.
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cache_control) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        for directive in cache_control.split(',') {
            let directive = directive.trim();
            if let Some(value) = directive
                .strip_prefix("max-age=")
                .or_else(|| directive.strip_prefix("s-maxage="))
                && let Ok(seconds) = value.trim_matches('"').parse::<u64>()
            {
                return Some(Duration::from_secs(seconds));
            }
        }
    }
    let expires = headers.get(header::EXPIRES)?.to_str().ok()?;
    let date = chrono::DateTime::parse_from_rfc2822(expires.trim()).ok()?;
    (date.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(590) && wait <= Duration::from_secs(600));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn freshness_prefers_max_age() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=1800"),
        );
        assert_eq!(freshness(&headers), Some(Duration::from_secs(1800)));
        assert_eq!(freshness(&HeaderMap::new()), None);
    }
}
