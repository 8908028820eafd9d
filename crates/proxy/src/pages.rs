//! The pages gatehouse itself answers with (400, 403, 404, 408, 502, 503,
//! 504, and the 503 "sign-in unavailable"), in the client's language (English, Spanish or French, from
//! `Accept-Language`). They name no member, address or internal error: the
//! access log has those.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use crate::body::ProxyBody;

/// A language gatehouse speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    Fr,
}

impl Lang {
    fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
        }
    }
}

/// The best language for an `Accept-Language` header (q-values honoured;
/// English when nothing matches).
pub fn negotiate(headers: &HeaderMap) -> Lang {
    let Some(v) = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
        return Lang::En;
    };
    let mut best = (Lang::En, 0.0f32);
    for item in v.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let lang = match primary {
            "en" => Lang::En,
            "es" => Lang::Es,
            "fr" => Lang::Fr,
            _ => continue,
        };
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

fn text(status: StatusCode, lang: Lang) -> (&'static str, &'static str) {
    use Lang::*;
    match (status.as_u16(), lang) {
        (400, En) => ("Bad request", "The request was malformed and was not forwarded."),
        (400, Es) => (
            "Solicitud incorrecta",
            "La solicitud estaba mal formada y no se reenvió.",
        ),
        (400, Fr) => (
            "Requête incorrecte",
            "La requête était mal formée et n'a pas été transmise.",
        ),
        (403, En) => (
            "Access denied",
            "You may not use this service from where you are connecting.",
        ),
        (403, Es) => ("Acceso denegado", "No puede usar este servicio desde donde se conecta."),
        (403, Fr) => (
            "Accès refusé",
            "Vous ne pouvez pas utiliser ce service depuis votre emplacement.",
        ),
        (404, En) => ("Not found", "There is nothing at this address."),
        (404, Es) => ("No encontrado", "No hay nada en esta dirección."),
        (404, Fr) => ("Introuvable", "Il n'y a rien à cette adresse."),
        (408, En) => ("Request timeout", "The request took too long to arrive."),
        (408, Es) => ("Tiempo de solicitud agotado", "La solicitud tardó demasiado en llegar."),
        (408, Fr) => ("Délai de requête dépassé", "La requête a mis trop de temps à arriver."),
        (421, En) => (
            "Misdirected request",
            "This connection does not serve that site. Please try again.",
        ),
        (421, Es) => (
            "Solicitud mal dirigida",
            "Esta conexión no sirve ese sitio. Inténtelo de nuevo.",
        ),
        (421, Fr) => (
            "Requête mal dirigée",
            "Cette connexion ne dessert pas ce site. Veuillez réessayer.",
        ),
        (502, En) => (
            "Bad gateway",
            "The server behind this site could not be reached. Please try again later.",
        ),
        (502, Es) => (
            "Puerta de enlace incorrecta",
            "No se pudo contactar con el servidor de este sitio. Inténtelo de nuevo más tarde.",
        ),
        (502, Fr) => (
            "Passerelle incorrecte",
            "Le serveur de ce site est injoignable. Veuillez réessayer plus tard.",
        ),
        (503, En) => (
            "Service unavailable",
            "This service is unavailable right now. Please try again later.",
        ),
        (503, Es) => (
            "Servicio no disponible",
            "Este servicio no está disponible en este momento. Inténtelo de nuevo más tarde.",
        ),
        (503, Fr) => (
            "Service indisponible",
            "Ce service est momentanément indisponible. Veuillez réessayer plus tard.",
        ),
        (504, En) => (
            "Gateway timeout",
            "The server behind this site took too long to answer. Please try again.",
        ),
        (504, Es) => (
            "Tiempo de espera agotado",
            "El servidor de este sitio tardó demasiado en responder. Inténtelo de nuevo.",
        ),
        (504, Fr) => (
            "Délai dépassé",
            "Le serveur de ce site a mis trop de temps à répondre. Veuillez réessayer.",
        ),
        (_, En) => ("Error", "The request could not be completed."),
        (_, Es) => ("Error", "No se pudo completar la solicitud."),
        (_, Fr) => ("Erreur", "La requête n'a pas pu aboutir."),
    }
}

/// The words of the 503 a route answers when its pre-authentication method
/// is not enforced: sign-in is unavailable, not the service. They promise
/// no retry, since the cause is the configuration, not a passing state.
fn sign_in_text(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::En => (
            "Sign-in unavailable",
            "Signing in to this service is not available, so it cannot be used from where you are connecting. Please contact your administrator.",
        ),
        Lang::Es => (
            "Inicio de sesión no disponible",
            "El inicio de sesión en este servicio no está disponible, por lo que no puede usarse desde donde se conecta. Póngase en contacto con su administrador.",
        ),
        Lang::Fr => (
            "Connexion indisponible",
            "La connexion à ce service n'est pas disponible : il ne peut pas être utilisé depuis votre emplacement. Veuillez contacter votre administrateur.",
        ),
    }
}

/// The page body for a status in a language.
pub fn body(status: StatusCode, lang: Lang) -> String {
    let (title, message) = text(status, lang);
    page_body(status, lang, title, message)
}

/// The body of the sign-in-unavailable page (503).
pub fn sign_in_body(lang: Lang) -> String {
    let (title, message) = sign_in_text(lang);
    page_body(StatusCode::SERVICE_UNAVAILABLE, lang, title, message)
}

fn page_body(status: StatusCode, lang: Lang, title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{tag}\"><head><meta charset=\"utf-8\"><title>{code} {title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>\n",
        tag = lang.tag(),
        code = status.as_u16()
    )
}

/// A complete error response.
pub(crate) fn response(status: StatusCode, lang: Lang) -> Response<Bytes> {
    with_body(status, lang, body(status, lang))
}

/// The 503 of a route whose pre-authentication is not enforced. No
/// `Retry-After`: retrying changes nothing until the topology does.
pub(crate) fn sign_in_unavailable(lang: Lang) -> Response<Bytes> {
    with_body(StatusCode::SERVICE_UNAVAILABLE, lang, sign_in_body(lang))
}

fn with_body(status: StatusCode, lang: Lang, body: String) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// gatehouse's own page for `status`, as a response the proxy sends.
pub(crate) fn page(status: StatusCode, lang: Lang) -> Response<ProxyBody> {
    response(status, lang).map(ProxyBody::full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn accept_language_q_values_pick_the_language() {
        assert_eq!(negotiate(&HeaderMap::new()), Lang::En);
        assert_eq!(negotiate(&with("fr-CA,fr;q=0.9,en;q=0.5")), Lang::Fr);
        assert_eq!(negotiate(&with("de, es;q=0.8, en;q=0.7")), Lang::Es);
        assert_eq!(negotiate(&with("en;q=0.2, es;q=0.3")), Lang::Es);
        assert_eq!(negotiate(&with("de")), Lang::En);
    }
}
