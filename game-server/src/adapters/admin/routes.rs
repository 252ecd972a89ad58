//! Which admin request gets what: a pure function of the request's method, path and the few
//! headers the policy reads, so the policy is tested without a socket.
//!
//! The policy, in order:
//! 1. `GET`/`HEAD /healthz` is always answered (`ok`, nothing else), so health probes need no
//!    token and learn nothing.
//! 2. With a token configured, every other request must carry it (401 otherwise, before the
//!    path, so an unauthenticated client learns nothing about what exists).
//! 3. Without a token the endpoint trusts loopback only, and a browser on the operator's
//!    machine is on loopback too: a web page the operator visits could point its own host
//!    name at 127.0.0.1 (DNS rebinding) and read `/metrics` or `/live`. So the `Host` must
//!    name loopback (`localhost`, `127.x.x.x`, `[::1]`, any port), and on `/live` an
//!    `Origin`, when the browser sends one, must be a loopback origin too (403 otherwise).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::adapters::admin::auth::AdminToken;

/// What the admin endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: the live map page.
    Page,
    /// `/metrics`: Prometheus exposition.
    Metrics,
    /// `/healthz`: 200 while the server runs.
    Health,
    /// `/live`: the page's server-sent event stream.
    Live,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve this route.
    Serve(Route),
    /// 401: a token is configured and the request does not carry it. Checked before the
    /// path, so an unauthenticated client learns nothing about what exists.
    Unauthorized,
    /// 403: no token is configured and the request's `Host` (or, on `/live`, its `Origin`)
    /// is not loopback: a page that rebound its name to 127.0.0.1, not the operator.
    Forbidden,
    /// 404.
    NotFound,
    /// 405: only GET and HEAD are served.
    MethodNotAllowed,
}

/// One request as [`decide`] reads it. Header values are the raw bytes, if present.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHead<'a> {
    /// `GET`, `HEAD`, ...
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a [u8]>,
    /// The `Host` header (HTTP/1.1 requires one).
    pub host: Option<&'a [u8]>,
    /// The `Origin` header, which browsers send on cross-origin requests.
    pub origin: Option<&'a [u8]>,
}

/// Decides a request; see the module docs for the policy.
pub fn decide(req: &RequestHead<'_>, token: Option<&AdminToken>) -> Decision {
    let read_only = req.method == "GET" || req.method == "HEAD";
    if read_only && req.path == "/healthz" {
        return Decision::Serve(Route::Health);
    }
    match token {
        Some(token) => {
            if !token.accepts(req.authorization) {
                return Decision::Unauthorized;
            }
        }
        None => {
            if !req.host.is_some_and(is_loopback_host) {
                return Decision::Forbidden;
            }
            if req.path == "/live" && req.origin.is_some_and(|o| !is_loopback_origin(o)) {
                return Decision::Forbidden;
            }
        }
    }
    if !read_only {
        return Decision::MethodNotAllowed;
    }
    match req.path {
        "/" | "/index.html" => Decision::Serve(Route::Page),
        "/metrics" => Decision::Serve(Route::Metrics),
        "/live" => Decision::Serve(Route::Live),
        _ => Decision::NotFound,
    }
}

/// Whether a `Host` header names loopback: `localhost`, an address in 127.0.0.0/8, or
/// `[::1]`, with or without a port.
pub fn is_loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if !after.is_empty() && !is_port(after) {
            return false;
        }
        return addr.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// Whether an `Origin` header is a loopback origin: `http://` or `https://` and a loopback
/// host, with no path. `null` (a sandboxed or file page) is not.
pub fn is_loopback_origin(origin: &[u8]) -> bool {
    let rest = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"));
    rest.is_some_and(|host| !host.contains(&b'/') && is_loopback_host(host))
}

/// `:` and one to five digits.
fn is_port(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(path: &'a str, host: &'a str) -> RequestHead<'a> {
        RequestHead {
            method: "GET",
            path,
            host: Some(host.as_bytes()),
            ..RequestHead::default()
        }
    }

    #[test]
    fn without_a_token_every_known_path_is_served_to_loopback() {
        let host = "127.0.0.1:9100";
        assert_eq!(decide(&get("/", host), None), Decision::Serve(Route::Page));
        assert_eq!(
            decide(&get("/metrics", host), None),
            Decision::Serve(Route::Metrics)
        );
        let head = RequestHead {
            method: "HEAD",
            ..get("/healthz", host)
        };
        assert_eq!(decide(&head, None), Decision::Serve(Route::Health));
        assert_eq!(
            decide(&get("/live", host), None),
            Decision::Serve(Route::Live)
        );
        assert_eq!(decide(&get("/nope", host), None), Decision::NotFound);
        let post = RequestHead {
            method: "POST",
            ..get("/metrics", host)
        };
        assert_eq!(decide(&post, None), Decision::MethodNotAllowed);
    }

    #[test]
    fn without_a_token_a_host_that_is_not_loopback_is_forbidden() {
        for host in [
            "evil.example",
            "evil.example:9100",
            "127.0.0.1.evil.example",
            "10.0.0.1:9100",
            "[::2]:9100",
            "localhost.evil.example",
            "localhost:port",
            "",
        ] {
            for path in ["/", "/metrics", "/live", "/nope"] {
                assert_eq!(
                    decide(&get(path, host), None),
                    Decision::Forbidden,
                    "{path} with Host {host:?}"
                );
            }
        }
        let no_host = RequestHead {
            host: None,
            ..get("/metrics", "")
        };
        assert_eq!(decide(&no_host, None), Decision::Forbidden);
        for host in [
            "localhost",
            "LOCALHOST:80",
            "127.0.0.1",
            "127.1.2.3:9",
            "[::1]",
            "[::1]:9100",
        ] {
            assert_eq!(
                decide(&get("/metrics", host), None),
                Decision::Serve(Route::Metrics),
                "Host {host:?}"
            );
        }
    }

    #[test]
    fn without_a_token_the_live_stream_refuses_a_foreign_origin() {
        let from = |origin: &'static str| RequestHead {
            origin: Some(origin.as_bytes()),
            ..get("/live", "127.0.0.1:9100")
        };
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "http://localhost/x",
        ] {
            assert_eq!(
                decide(&from(bad), None),
                Decision::Forbidden,
                "Origin {bad}"
            );
        }
        for good in [
            "http://127.0.0.1:9100",
            "http://localhost:9100",
            "https://[::1]:9100",
        ] {
            assert_eq!(
                decide(&from(good), None),
                Decision::Serve(Route::Live),
                "Origin {good}"
            );
        }
    }

    #[test]
    fn healthz_answers_anyone_and_says_nothing_else() {
        let token = AdminToken::new("a-long-enough-admin-token").expect("valid");
        assert_eq!(
            decide(&get("/healthz", "evil.example"), Some(&token)),
            Decision::Serve(Route::Health)
        );
        assert_eq!(
            decide(&get("/healthz", "evil.example"), None),
            Decision::Serve(Route::Health)
        );
    }

    #[test]
    fn with_a_token_every_other_request_needs_it_even_for_unknown_paths() {
        let token = AdminToken::new("a-long-enough-admin-token").expect("valid");
        for path in ["/", "/metrics", "/live", "/nope"] {
            assert_eq!(
                decide(&get(path, "game.example:9100"), Some(&token)),
                Decision::Unauthorized,
                "{path} without the token"
            );
        }
        let good = b"Bearer a-long-enough-admin-token".as_slice();
        let with = |method: &'static str, path: &'static str| RequestHead {
            method,
            authorization: Some(good),
            ..get(path, "game.example:9100")
        };
        assert_eq!(
            decide(&with("GET", "/live"), Some(&token)),
            Decision::Serve(Route::Live),
            "the event stream too takes the token, from any host name"
        );
        assert_eq!(
            decide(&with("POST", "/"), Some(&token)),
            Decision::MethodNotAllowed
        );
    }
}
