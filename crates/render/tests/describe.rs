//! `describe` of the Contoso topology: golden files in English, Spanish and
//! French (compared byte for byte; `UPDATE_GOLDEN=1` rewrites them), and
//! explicit checks that each language names every component, user type,
//! published URL and port of the reference (docs/reference.md) with the
//! products' established terminology.

mod common;

use gatehouse_render::describe::{describe, DescribeFormat, Lang};

use common::{contoso, golden, plan_of};

#[test]
fn english_markdown_matches_its_golden_file() {
    golden(
        "contoso.en.md",
        &describe(&contoso(), Lang::En, DescribeFormat::Markdown),
    );
}

#[test]
fn spanish_markdown_matches_its_golden_file() {
    golden(
        "contoso.es.md",
        &describe(&contoso(), Lang::Es, DescribeFormat::Markdown),
    );
}

#[test]
fn french_markdown_matches_its_golden_file() {
    golden(
        "contoso.fr.md",
        &describe(&contoso(), Lang::Fr, DescribeFormat::Markdown),
    );
}

#[test]
fn french_html_matches_its_golden_file() {
    golden("contoso.fr.html", &describe(&contoso(), Lang::Fr, DescribeFormat::Html));
}

/// What every language must say, whatever its words: the published URLs,
/// the ports of the legend, the products and the addresses of the VIPs.
const EVERY_LANGUAGE: &[&str] = &[
    "https://partnerweb.contoso.com",
    "https://meet.contoso.com",
    "https://intranet.contoso.com",
    "https://teams.contoso.com",
    "https://my.contoso.com",
    "https://mail.contoso.com",
    "https://dial.contoso.com",
    "https://admin.contoso.com",
    "Exchange Online Protection",
    "DirectAccess",
    "Office Web Apps",
    "TLS-DSK",
    "NTLM",
    "Kerberos",
    "SAML",
    "TCP 25",
    "TCP 443",
    "5061",
    "5269",
    "UDP 3478",
    "50000-59999",
    "4443",
    "8080",
    "110",
    "995",
    "143",
    "993",
    "587",
    "UDP 500",
    "203.0.113.10",
    "10.0.10.10",
];

/// The components, user types and legend of docs/reference.md in each language's
/// established terms (as in the poster's Spanish and French editions).
fn terms(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => &[
            "gateway router",
            "load balancer",
            "reverse proxy",
            "hardware load balancer (HLB)",
            "Lync VIP",
            "SharePoint VIP",
            "Exchange VIP",
            "split DNS",
            "DNS load balancing",
            "Lync Edge server",
            "VPN gateway",
            "DirectAccess server",
            "Lync pool (front end)",
            "SharePoint web front end and distributed cache",
            "Exchange Client Access servers (CAS)",
            "Office Web Apps Server",
            "search (query, index, administration) and batch processing",
            "Lync back-end database",
            "SharePoint databases",
            "Exchange Mailbox servers",
            "Partner companies (B2B)",
            "Individual partners (SharePoint) and anonymous users (Lync)",
            "Roaming and remote employees",
            "Internal employees",
            "Green line: Lync SIP traffic",
            "Blue line: Lync web traffic",
            "Purple line: SharePoint client traffic",
            "Orange line: Exchange client traffic",
            "Grey line: Exchange mail server traffic",
            "forms-based authentication",
            "Basic authentication",
        ],
        Lang::Es => &[
            "enrutador de puerta de enlace",
            "equilibrador de carga",
            "proxy inverso",
            "equilibrador de carga de hardware (HLB)",
            "dirección VIP de Lync",
            "dirección VIP de SharePoint",
            "dirección VIP de Exchange",
            "DNS dividido",
            "equilibrio de carga de DNS",
            "servidor perimetral de Lync",
            "puerta de enlace VPN",
            "servidor de DirectAccess",
            "Granja de servidores de Lync (front-end)",
            "servidor front-end web de SharePoint y caché distribuida",
            "servidores de acceso de cliente de Exchange (CAS)",
            "Office Web Apps Server",
            "búsqueda (consulta, índice, administración) y procesamiento por lotes",
            "base de datos de Lync (back-end)",
            "bases de datos de SharePoint",
            "servidores de buzones de Exchange",
            "Empresas asociadas (negocio a negocio)",
            "Asociados particulares (SharePoint) y anónimos (Lync)",
            "Empleados remotos y con movilidad",
            "Empleados internos",
            "Línea verde: tráfico SIP de Lync",
            "Línea azul: tráfico de Lync Web",
            "Línea púrpura: tráfico de cliente de SharePoint",
            "Línea naranja: tráfico de cliente de Exchange",
            "Línea gris: tráfico del servidor de correo de Exchange",
            "autenticación basada en formularios",
            "autenticación básica",
        ],
        Lang::Fr => &[
            "routeur passerelle",
            "équilibreur de charge",
            "proxy inverse",
            "équilibreur de charge matériel (HLB)",
            "adresse IP virtuelle Lync",
            "adresse IP virtuelle SharePoint",
            "adresse IP virtuelle Exchange",
            "DNS fractionné",
            "équilibrage de charge DNS",
            "serveur Edge de Lync",
            "passerelle VPN",
            "serveur DirectAccess",
            "Pool Lync (frontal)",
            "serveur web frontal SharePoint et cache distribué",
            "serveurs d'accès au client Exchange (CAS)",
            "serveur Office Web Apps",
            "recherche (requête, index, administration) et traitement par lots",
            "base de données Lync (serveur principal)",
            "bases de données SharePoint",
            "serveurs de boîtes aux lettres Exchange",
            "Sociétés partenaires (B2B)",
            "Partenaires individuels (SharePoint) et anonymes (Lync)",
            "Employés itinérants et distants",
            "Employés internes",
            "Ligne verte : trafic SIP Lync",
            "Ligne bleue : trafic web Lync",
            "Ligne violette : trafic du client SharePoint",
            "Ligne orange : trafic du client Exchange",
            "Ligne grise : trafic du serveur de messagerie Exchange",
            "authentification basée sur les formulaires",
            "authentification de base",
        ],
    }
}

#[test]
fn every_language_names_each_component_user_type_url_and_port_of_the_reference() {
    let plan = contoso();
    for lang in Lang::ALL {
        let text = describe(&plan, lang, DescribeFormat::Markdown).to_lowercase();
        let missing: Vec<&&str> = EVERY_LANGUAGE
            .iter()
            .chain(terms(lang))
            .filter(|term| !text.contains(&term.to_lowercase()))
            .collect();
        assert!(missing.is_empty(), "{lang} description lacks {missing:?}");
    }
}

#[test]
fn spanish_and_french_carry_no_english_section_headings() {
    let plan = contoso();
    let english = describe(&plan, Lang::En, DescribeFormat::Markdown);
    let headings: Vec<&str> = english.lines().filter(|l| l.starts_with('#')).collect();
    for lang in [Lang::Es, Lang::Fr] {
        let text = describe(&plan, lang, DescribeFormat::Markdown);
        let same: Vec<&&str> = headings.iter().filter(|h| text.lines().any(|l| l == **h)).collect();
        // Product-named headings would be equal in any language; the structural ones must not be.
        assert!(same.len() <= 1, "{lang} keeps English headings {same:?}");
    }
}

#[test]
fn the_description_follows_the_topology() {
    let changed = common::CONTOSO
        .replace("\"203.0.113.10\"", "\"203.0.113.110\"")
        .replace("label = \"Internal employees\"", "label = \"Head-office staff\"")
        .replace(
            "\"admin.contoso.com\", \"pool01.contoso.com\",",
            "\"admin.contoso.com\", \"status.contoso.com\", \"pool01.contoso.com\",",
        )
        .replace(
            "\"admin.contoso.com\", \"pool01.contoso.com:5061\"",
            "\"admin.contoso.com\", \"status.contoso.com\", \"pool01.contoso.com:5061\"",
        )
        .replace(
            "hosts = [\"admin.contoso.com\"]",
            "hosts = [\"admin.contoso.com\", \"status.contoso.com\"]",
        );
    let plan = plan_of(&changed);
    for lang in Lang::ALL {
        let before = describe(&contoso(), lang, DescribeFormat::Markdown);
        let after = describe(&plan, lang, DescribeFormat::Markdown);
        assert!(
            before.contains("203.0.113.10 ") && !after.contains("203.0.113.10 "),
            "{lang}: old VIP gone"
        );
        assert!(after.contains("203.0.113.110"), "{lang}: new VIP shown");
        // A label of the topology's own passes through untranslated.
        assert!(after.contains("Head-office staff"), "{lang}: new label shown");
        assert!(after.contains("https://status.contoso.com"), "{lang}: new name shown");
        assert!(!before.contains("status.contoso.com"));
    }
}

#[test]
fn html_is_a_complete_page_in_the_chosen_language() {
    let plan = contoso();
    for lang in Lang::ALL {
        let html = describe(&plan, lang, DescribeFormat::Html);
        assert!(html.starts_with(&format!("<!DOCTYPE html>\n<html lang=\"{lang}\">")));
        let doc = roxmltree::Document::parse(html.trim_start_matches("<!DOCTYPE html>\n"))
            .unwrap_or_else(|e| panic!("{lang} HTML is not well-formed: {e}"));
        let h1 = doc.descendants().filter(|n| n.has_tag_name("h1")).count();
        assert_eq!(h1, 1, "one top-level heading");
        let links = doc.descendants().filter(|n| n.has_tag_name("a")).count();
        assert!(links >= 8, "{lang}: the published URLs are links");
    }
}

/// Each language's sentence after a provider's pre-authentication, while
/// gatehouse does not enforce the method and the route refuses with 503.
fn not_enforced(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "gatehouse does not enforce this method yet: until it does, it refuses these requests with HTTP 503 (sign-in unavailable), and nothing reaches the servers.",
        Lang::Es => "gatehouse aún no aplica este método: hasta que lo haga, rechaza estas solicitudes con HTTP 503 (inicio de sesión no disponible) y nada llega a los servidores.",
        Lang::Fr => "gatehouse n'applique pas encore cette méthode : d'ici là, il refuse ces requêtes avec HTTP 503 (connexion indisponible) et rien n'atteint les serveurs.",
    }
}

#[test]
fn pre_authenticated_flows_say_gatehouse_refuses_them_with_503_in_every_language() {
    let plan = contoso();
    let providers = ["`corp-forms`", "`corp-basic`", "`partner-forms`", "`partner-saml`"];
    for lang in Lang::ALL {
        let text = describe(&plan, lang, DescribeFormat::Markdown);
        let sentence = not_enforced(lang);
        // The flow lines that name a provider's sign-in, and only those, say it.
        let flow_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  - ") && providers.iter().any(|p| l.contains(p)))
            .collect();
        assert_eq!(flow_lines.len(), 7, "{lang}: {flow_lines:#?}");
        for line in &flow_lines {
            assert!(line.ends_with(&format!(". {sentence}")), "{lang}: {line}");
        }
        assert_eq!(text.matches(sentence).count(), 7, "{lang}");
    }
    let en = describe(&plan, Lang::En, DescribeFormat::Markdown);
    let owa = en
        .lines()
        .find(|l| l.starts_with("  - From `internet`, <https://mail.contoso.com> (/owa, /ecp)"))
        .expect("OWA and ECP from the Internet");
    assert!(
        owa.ends_with(
            "Authentication: forms-based authentication with `corp-forms`, at the reverse proxy, before any traffic \
             reaches the servers. gatehouse does not enforce this method yet: until it does, it refuses these \
             requests with HTTP 503 (sign-in unavailable), and nothing reaches the servers."
        ),
        "{owa}"
    );
    // Pass-through and anonymous flows are forwarded: no such sentence.
    let pass_through = en
        .lines()
        .find(|l| l.contains("From `partners`, <https://mail.contoso.com>"))
        .expect("Exchange from partners");
    assert!(
        pass_through.contains("pass through the reverse proxy") && !pass_through.contains("503"),
        "{pass_through}"
    );
}
