//! Which admin request gets what: a pure function of method, path and credentials, so the
//! policy is tested without a socket.

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
    /// 404.
    NotFound,
    /// 405: only GET and HEAD are served.
    MethodNotAllowed,
}

/// Decides a request. `authorization` is the raw `Authorization` header, if any.
pub fn decide(
    method: &str,
    path: &str,
    authorization: Option<&[u8]>,
    token: Option<&AdminToken>,
) -> Decision {
    if let Some(token) = token {
        if !token.accepts(authorization) {
            return Decision::Unauthorized;
        }
    }
    if method != "GET" && method != "HEAD" {
        return Decision::MethodNotAllowed;
    }
    match path {
        "/" | "/index.html" => Decision::Serve(Route::Page),
        "/metrics" => Decision::Serve(Route::Metrics),
        "/healthz" => Decision::Serve(Route::Health),
        "/live" => Decision::Serve(Route::Live),
        _ => Decision::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_every_known_path_is_served() {
        assert_eq!(decide("GET", "/", None, None), Decision::Serve(Route::Page));
        assert_eq!(
            decide("GET", "/metrics", None, None),
            Decision::Serve(Route::Metrics)
        );
        assert_eq!(
            decide("HEAD", "/healthz", None, None),
            Decision::Serve(Route::Health)
        );
        assert_eq!(
            decide("GET", "/live", None, None),
            Decision::Serve(Route::Live)
        );
        assert_eq!(decide("GET", "/nope", None, None), Decision::NotFound);
        assert_eq!(
            decide("POST", "/metrics", None, None),
            Decision::MethodNotAllowed
        );
    }

    #[test]
    fn with_a_token_every_request_needs_it_even_for_unknown_paths() {
        let token = AdminToken::new("a-long-enough-admin-token").expect("valid");
        for path in ["/", "/metrics", "/healthz", "/live", "/nope"] {
            assert_eq!(
                decide("GET", path, None, Some(&token)),
                Decision::Unauthorized,
                "{path} without the token"
            );
        }
        let good = b"Bearer a-long-enough-admin-token".as_slice();
        assert_eq!(
            decide("GET", "/live", Some(good), Some(&token)),
            Decision::Serve(Route::Live),
            "the event stream too takes the token"
        );
        assert_eq!(
            decide("POST", "/", Some(good), Some(&token)),
            Decision::MethodNotAllowed
        );
    }
}
