//! One HTTPS GET of a pre-signed URL (ECR's `GetDownloadUrlForLayer` answer): the only request
//! the tool makes outside the AWS SDK, for a single-platform image's config blob.
//!
//! Invariants: the URL is never printed (it carries a signature); the body is capped at
//! `LIMIT` bytes and the request at `TIMEOUT`; TLS uses the same rustls provider and the
//! system's roots as the SDK.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Image configs are a few KiB; a bigger answer is not one.
const LIMIT: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn get(url: &str) -> Result<Vec<u8>> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| anyhow!("loading the system's TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let uri: hyper::Uri = url.parse().map_err(|_| anyhow!("the download URL is not a URL"))?;
    let host = uri.host().unwrap_or_default().to_string();
    let response = tokio::time::timeout(TIMEOUT, client.get(uri))
        .await
        .map_err(|_| anyhow!("no answer from {host} within {}s", TIMEOUT.as_secs()))?
        .map_err(|e| anyhow!("downloading from {host}: {e}"))?;
    if !response.status().is_success() {
        bail!("downloading from {host}: HTTP {}", response.status());
    }
    let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), LIMIT).collect())
        .await
        .map_err(|_| anyhow!("no complete answer from {host} within {}s", TIMEOUT.as_secs()))?
        .map_err(|e| anyhow!("downloading from {host}: {e}"))?;
    Ok(body.to_bytes().to_vec())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request HTTP server on loopback answering `body`: stands in for S3's pre-signed
    /// download (moto has no GetDownloadUrlForLayer). Returns its URL.
    pub(crate) async fn serve_once(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            socket.write_all(answer.as_bytes()).await.expect("write");
        });
        format!("http://127.0.0.1:{port}/blob?X-Amz-Signature=secret")
    }

    #[tokio::test]
    async fn a_blob_is_downloaded() {
        let url = serve_once("200 OK", r#"{"architecture":"amd64"}"#).await;
        assert_eq!(get(&url).await.expect("downloaded"), br#"{"architecture":"amd64"}"#.to_vec());
    }

    #[tokio::test]
    async fn an_http_error_fails_without_printing_the_signed_url() {
        let url = serve_once("403 Forbidden", "denied").await;
        let err = get(&url).await.expect_err("a 403 fails").to_string();
        assert!(err.contains("HTTP 403"), "{err}");
        assert!(!err.contains("Signature"), "{err}");
    }
}
