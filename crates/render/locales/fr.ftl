# Messages français de `gatehouse describe` et `gatehouse diagram`.
# Terminologie de l'édition française de l'affiche (citée dans docs/reference.md).
# Les noms de la topologie arrivent déjà marqués comme `code` : les garder.

## Listes

list-and = { $first } et { $last }
list-or = { $first } ou { $last }

## Produits, niveaux et rôles de serveur

product-lync = Lync
product-sharepoint = SharePoint
product-exchange = Exchange
product-office-web-apps = Office Web Apps
product-generic = autres services

tier-front-end = frontal
tier-application = application
tier-database = stockage/base de données
tier-edge = Edge

role-lync-front-end = Pool Lync (frontal)
role-lync-database = Base de données Lync (serveur principal)
role-lync-edge = Serveur Edge de Lync
role-sharepoint-front-end = Serveur web frontal SharePoint et cache distribué
role-sharepoint-application = SharePoint : recherche (requête, index, administration) et traitement par lots
role-sharepoint-database = Bases de données SharePoint
role-exchange-front-end = Serveurs d'accès au client Exchange (CAS)
role-exchange-database = Serveurs de boîtes aux lettres Exchange
role-office-web-apps-front-end = Serveur Office Web Apps
role-generic = { $product } : serveurs { $tier }

## Types d'utilisateur de l'architecture de référence

user-type-partner-companies = Sociétés partenaires (B2B)
user-type-individual-partners-and-anonymous = Partenaires individuels (SharePoint) et anonymes (Lync)
user-type-remote-employees = Employés itinérants et distants
user-type-internal-employees = Employés internes

## Classes de trafic et lignes de la légende

class-lync-sip = trafic SIP Lync
class-lync-web = trafic web Lync
class-sharepoint = trafic du client SharePoint
class-exchange-client = trafic du client Exchange
class-exchange-mail = trafic du serveur de messagerie Exchange
line-green = Ligne verte
line-blue = Ligne bleue
line-purple = Ligne violette
line-orange = Ligne orange
line-grey = Ligne grise

## Ports que nomme l'affiche

port-tcp-25 = SMTP
port-tcp-53 = DNS
port-udp-53 = DNS
port-tcp-80 = HTTP
port-tcp-110 = POP3
port-tcp-143 = IMAP4
port-tcp-443 = HTTPS, TLS
port-tcp-587 = soumission SMTP
port-tcp-993 = IMAP4 crypté
port-tcp-995 = POP3 crypté
port-tcp-1433 = SQL Server
port-tcp-4443 = services web externes de Lync
port-tcp-5061 = SIP sur TLS
port-tcp-5269 = XMPP
port-tcp-8080 = services web externes de Lync, HTTP
port-udp-3478 = audio/vidéo, STUN et TURN
port-tcp-50000-59999 = médias audio/vidéo, SRTP

## Authentification

auth-forms = authentification basée sur les formulaires
auth-basic = authentification de base sur TLS
auth-saml = authentification SAML
auth-client-certificate = authentification mutuelle TLS par certificat client
auth-negotiate = Kerberos ou NTLM (Negotiate)
auth-anonymous = accès anonyme
auth-pass-through = authentification par les serveurs (NTLM, Kerberos, TLS-DSK ou SAML)
flow-auth-anonymous = Authentification : anonyme ; le proxy inverse ne demande aucune connexion.
flow-auth-pass-through = Authentification : par les serveurs ; NTLM, Kerberos, TLS-DSK ou SAML traversent le proxy inverse.
flow-auth-refused = La route refuse cette zone.
flow-auth-preauth = Authentification : { $method } avec { $provider }, au proxy inverse, avant que le trafic n'atteigne les serveurs.
flow-auth-not-enforced = gatehouse n'applique pas encore cette méthode : d'ici là, il refuse ces requêtes avec HTTP 503 (connexion indisponible) et rien n'atteint les serveurs.
flow-auth-layer4 = Authentification : par les serveurs ; TLS traverse l'équilibreur de charge sans être ouvert.
flow-auth-direct = Authentification : par les serveurs ; les clients s'y connectent directement.

## Périphériques et étapes

device-vpn = passerelle VPN
device-directaccess = serveur DirectAccess
device-remote-access = serveur d'accès distant
hop-gateway = routeur passerelle ({ $count ->
    [one] règle de LCA
   *[other] règles de LCA
} { $rules })
hop-gateway-blocked = routeur passerelle, qui le bloque : aucune règle de LCA ne l'autorise
hop-remote-access = { $device } (zone { $zone })
hop-edge-vip = { $count ->
    [one] adresse IP virtuelle Edge
   *[other] adresses IP virtuelles Edge
} { $product } (équilibreur de charge) à { $endpoints }
hop-reverse-proxy = adresse IP virtuelle { $product } (équilibreur de charge/serveur proxy inverse) à { $endpoints }
hop-hlb = équilibreur de charge matériel (HLB), requis pour le trafic HTTPS vers Lync
hop-vip = adresse IP virtuelle { $product } (équilibreur de charge) à { $endpoints }
hop-dns = équilibrage de charge DNS de { $name }
hop-servers = { $role } ({ $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
} ; { $npools ->
    [0] pool
    [one] pool
   *[other] pools
} { $pools })
hop-servers-port = { $role } (port { $port } sur { $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
} ; { $npools ->
    [0] pool
    [one] pool
   *[other] pools
} { $pools })

## Titre et résumé

title = Diagramme accessible : intégration réseau de { $name }
summary-label = Résumé :
summary = cet article est la version texte accessible du diagramme du réseau de { $name }. gatehouse génère les deux à partir du même fichier de topologie : ils disent donc toujours la même chose.
intro = Ce réseau publie { $products } pour les utilisateurs internes et externes par le biais de périphériques réseau partagés : un routeur passerelle avec LCA, un équilibreur de charge avec une adresse IP virtuelle par produit, un proxy inverse qui termine TLS et pré-authentifie les utilisateurs, et un DNS fractionné. gatehouse joue chacun de ces périphériques.

## À propos de la conception

h-concepts = Concepts de haut niveau relatifs à { $products }
h-about-design = À propos de la conception
h-streamlined = Conception réseau simplifiée
design-counts = La topologie comporte { $zones ->
    [0] aucune zone
    [one] une zone
   *[other] { $zones } zones
}, { $listeners ->
    [0] aucun écouteur
    [one] un écouteur (VIP)
   *[other] { $listeners } écouteurs (VIP)
}, { $pools ->
    [0] aucun pool de serveurs
    [one] un pool de serveurs
   *[other] { $pools } pools de serveurs
}, { $routes ->
    [0] aucune route
    [one] une route
   *[other] { $routes } routes
} et { $usertypes ->
    [0] aucun type d'utilisateur
    [one] un type d'utilisateur
   *[other] { $usertypes } types d'utilisateur
}.
design-this-diagram = Ce schéma :
design-point-traffic = Illustre le trafic entrant et sortant via le routeur passerelle, ainsi que l'équilibrage de charge du trafic (interne et externe) des sessions client vers les niveaux de serveur de { $products }.
design-point-remote = Illustre les serveurs d'accès distant : { $devices }.
design-point-flow = Décrit le flux du trafic depuis le client jusqu'à chaque niveau de serveur.
design-point-auth = Identifie, pour chaque type d'utilisateur, si son accès est distant ou interne et la méthode d'authentification utilisée.
design-point-tiers = Décompose les plates-formes par rôle de serveur en niveaux frontal, application et base de données.
design-example-only = Cette architecture ne privilégie pas une implémentation de ces plates-formes : elle ne fait que proposer un exemple, car les topologies varient selon les exigences réseau et de sécurité.
h-gateway = Routeur passerelle
gateway-role = Le routeur passerelle se trouve à la périphérie du réseau et achemine le trafic entrant et sortant vers et depuis l'intranet. Ses listes de contrôle d'accès (LCA) n'autorisent qu'un trafic IP très précis sur ses interfaces.
gateway-acl = { $count ->
    [0] La LCA ne comporte aucune règle : elle refuse donc tout :
    [one] La LCA comporte une règle ; tout ce qu'elle n'autorise pas est refusé :
   *[other] La LCA comporte { $count } règles, évaluées dans l'ordre ; la première qui correspond décide, et tout ce qui ne correspond à aucune est refusé :
}
acl-allow = { $rule } : autoriser { $what } depuis { $from }
acl-deny = { $rule } : refuser { $what } depuis { $from }
acl-any-port = tous les ports
acl-anywhere = toute origine
acl-implicit-deny = Tout le reste : refuser.
h-balancer = Périphériques d'équilibrage de charge et de proxy inverse
balancer-role = L'équilibreur de charge publie une adresse IP virtuelle (VIP) par produit et répartit les sessions client sur les pools de serveurs, en vérifiant l'intégrité de chaque membre. Le proxy inverse termine TLS sur TCP 443, pré-authentifie les utilisateurs avant que leur trafic n'atteigne les serveurs et offre un point unique de gestion des certificats (certificats { $certificates }).
vip-line = Adresse IP virtuelle { $product } : { $addresses }, pour { $count ->
    [one] le nom
   *[other] les noms
} { $names }.
vip-dns-balanced = SIP utilise plutôt l'équilibrage de charge DNS : { $name } énumère les membres intègres du pool { $pool } ({ $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
}).
balancer-guidance-intro = Équilibrage de chaque produit :
algorithm-round-robin = tourniquet
algorithm-weighted-round-robin = tourniquet pondéré
algorithm-least-connections = moins de connexions
algorithm-source-hash = hachage de la source
affinity-none = sans affinité
affinity-cookie = affinité par cookie
affinity-source-ip = affinité par adresse IP source
balancing-line = { $product } : { $algorithms } ; { $layer4 ->
    [0] aucun pool
    [one] un pool
   *[other] { $layer4 } pools
} en couche 4 et { $layer7 ->
    [0] aucun
    [one] un
   *[other] { $layer7 }
} en couche 7 via le proxy inverse{ $layer7 ->
    [0] .
   *[other] { "" } ({ $affinity }).
}
balancing-dns = Équilibrage de charge DNS pour { $pools }.
guidance-lync = L'équilibrage de charge DNS est recommandé pour le trafic SIP vers les pools Lync ; un équilibreur de charge matériel (HLB) est nécessaire pour le trafic web Lync (HTTPS).
guidance-sharepoint = SharePoint 2013 n'a pas besoin d'affinité sur les serveurs web frontaux : son cache distribué stocke et distribue les jetons d'ouverture de session entre les serveurs web.
guidance-exchange = Dans Exchange 2013, le rôle d'accès au client est conçu pour l'équilibrage de charge de couche 4, ce qui diminue sensiblement la charge de l'équilibreur de charge.
h-remote-access = Options d'accès distant
remote-intro = Plusieurs options permettent de publier des ressources intranet pour les partenaires sur Internet ou de fournir un accès distant sécurisé aux employés distants ou itinérants :
remote-reverse-proxy = Proxy inverse : TLS (TCP 443) entre le client et le proxy inverse, qui pré-authentifie sur { $routes ->
    [0] aucune route
    [one] une route
   *[other] { $routes } routes
} avec { $count ->
    [0] aucun fournisseur d'identité
    [one] ce fournisseur d'identité
   *[other] ces fournisseurs d'identité
} : { $providers }.
remote-zone = { $device } : ses clients arrivent dans la zone { $zone } ({ $prefixes }).
remote-directaccess = DirectAccess utilise le trafic protégé IPsec (protocoles IP 50 et 51, et UDP 500) entre le client et le serveur ; une passerelle VPN projette l'ordinateur client sur l'intranet via un tunnel initié par l'utilisateur.
remote-lync = Ni DirectAccess ni le VPN ne sont recommandés pour Lync (latence audio et vidéo) : le trafic Lync distant doit utiliser le serveur Edge et le tunneling fractionné.
h-dns = Considérations relatives au système DNS (Domain Name System)
dns-none = La topologie n'a pas de section DNS : gatehouse ne répond à aucune requête DNS.
dns-intro = gatehouse sert un DNS fractionné pour { $apex } sur { $listen } : chaque vue répond à ses zones avec les adresses IP virtuelles que ces zones peuvent utiliser.
dns-view = Vue { $view }, pour les zones { $zones } :
dns-records = Autres enregistrements :
dns-guidance-intro = Recommandations DNS de l'affiche :
dns-record-in-views = { $record } (vues { $views })
dns-guidance-public = Le DNS public résout en adresses publiques les noms du routeur passerelle, du serveur Edge de Lync, des adresses IP virtuelles de l'équilibreur de charge et de la passerelle VPN ou DirectAccess.
dns-guidance-intranet = Le DNS de l'intranet résout les noms d'Exchange, SharePoint et Lync en adresses IP virtuelles internes de l'équilibreur de charge.
dns-guidance-directaccess = Les clients DirectAccess utilisent le DNS de l'intranet pour l'espace de noms de l'intranet et le DNS Internet pour le reste ; un espace de noms fractionné simplifie les choses (par exemple contoso.com à l'extérieur et corp.contoso.com à l'intérieur). Les clients VPN peuvent être configurés pour n'utiliser que le DNS de l'intranet pendant la connexion.
dns-guidance-exchange = Exchange s'appuie sur un DNS fractionné : au minimum des enregistrements pour OWA, la découverte automatique, ActiveSync et un enregistrement MX ; avec Exchange Online Protection, l'enregistrement MX pointe vers ce service et non vers les serveurs Exchange ; le partage fédéré demande un enregistrement TXT de preuve de propriété.

## Composants du diagramme

h-diagram = Description du diagramme
diagram-intro = Ce diagramme fournit un exemple de topologie réseau illustrant le trafic entrant et sortant via un routeur passerelle et l'équilibrage de charge des sessions client vers les niveaux de serveur appropriés. Sa description est divisée en deux : les composants figurant dans le diagramme, et la façon dont le trafic les traverse jusqu'aux niveaux de serveur.
h-components = Description des composants figurant dans le diagramme
h-user-types = Types d'utilisateur
user-types-count = Il existe { $count ->
    [0] aucun type d'utilisateur
    [one] un type d'utilisateur
   *[other] { $count } types d'utilisateur
} : { $external } externes et { $internal } internes.
user-type-external = { $label } : externe (zones { $zones })
user-type-internal = { $label } : interne (zones { $zones })
h-cloud-mail = Trafic de messagerie sur le cloud
cloud-mail-component = Le composant cloud pour le trafic de messagerie SMTP se compose d'hôtes de messagerie Internet ou d'Exchange Online Protection : zone { $zones } ({ $count ->
    [0] aucun préfixe
    [one] un préfixe
   *[other] { $count } préfixes
}).
h-external-auth = Authentification pour l'accès externe
external-auth = Chaque type d'utilisateur a sa propre authentification pour Lync, SharePoint et Exchange ; elle est décrite plus loin avec le trafic de chaque type d'utilisateur.
h-gateway-acl = Routeur passerelle avec LCA
gateway-acl-component = Le routeur passerelle se trouve à la périphérie du réseau et achemine le trafic entrant et sortant vers et depuis l'intranet, au moyen de { $count ->
    [0] aucune règle de LCA
    [one] une règle de LCA
   *[other] { $count } règles de LCA
} (énumérées plus haut).
h-remote-servers = Serveurs d'accès distant pour Lync et SharePoint
edge-component = { $role } : { $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
} ({ $hosts }, pool { $pools }), publié à { $vips }.
remote-zone-component = { $device } : zone { $zone }.
h-balancer-device = Équilibreur de charge et périphérique de proxy inverse
balancer-component = Cette topologie présente les adresses IP virtuelles de { $products } dans l'équilibreur de charge.
h-servers = Serveurs
servers-intro = Il existe { $count ->
    [0] aucun produit
    [one] un produit
   *[other] { $count } produits
} : { $products }. Chacun peut avoir trois niveaux : frontal (accès client), application, et stockage ou base de données.
h-tier-front-end = Niveau accès client frontal
h-tier-application = Niveau application
h-tier-database = Niveau stockage/base de données
server-group = { $role } : { $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
} ({ $hosts }) ; { $npools ->
    [0] pool
    [one] pool
   *[other] pools
} { $pools }.

## Parcours du trafic

h-movement = Description du parcours du trafic dans les composants des différents niveaux serveur
movement-intro = Cette section décrit la façon dont les demandes utilisateur circulent dans la topologie réseau.
h-external-routing = Authentification et routage pour l'accès externe
external-routing-intro = Il existe { $count ->
    [0] aucun type d'utilisateur externe
    [one] un type d'utilisateur externe
   *[other] { $count } types d'utilisateur externes
} :
external-routing-each = Le processus d'authentification et de routage est décrit individuellement pour chaque type d'utilisateur externe.
h-internal-auth = Authentification pour l'accès interne
user-type-declared = Zones { $zones } ; authentification : { $auth }. Il atteint :
product-not-applicable = { " " }: sans objet.
user-type-unpublished = Déclarés mais publiés pour aucune de ses zones : { $names }.
flow-line = Depuis { $zones }, { $names } : { $path }.
cloud-mail-intro = Ces composants acheminent le trafic de messagerie sur le réseau à l'aide du protocole SMTP :
cloud-mail-mx = L'enregistrement MX pointe vers { $target }.

## Légende

h-legend = Légende relative au trafic réseau
legend-intro = La zone de légende représente graphiquement les différents types de trafic à l'aide de lignes de couleur :
legend-line = { $line } : { $class } ({ $ports }).
legend-outro = La zone de légende indique également les ports utilisés par chaque type de trafic, nom par nom :
legend-note-sharepoint = { $open ->
    [yes] Pour l'accès externe à partir d'Internet, ce port doit être ouvert pour le trafic entrant et sortant sur le routeur passerelle, et il l'est.
   *[no] Pour l'accès externe à partir d'Internet, ce port doit être ouvert pour le trafic entrant et sortant sur le routeur passerelle ; il ne l'est pas pour toutes les zones externes.
}

## Étiquettes du diagramme

diagram-title = { $name } : intégration réseau des produits serveur Microsoft Office
diagram-subtitle = Dessiné par gatehouse à partir de la topologie ; gatehouse joue le routeur passerelle, l'équilibreur de charge, le proxy inverse et le DNS fractionné.
diagram-desc = Diagramme réseau de { $name } : { $usertypes } types d'utilisateur à gauche, le routeur passerelle avec { $rules } règles de LCA, les serveurs d'accès distant, l'équilibreur de charge et proxy inverse avec { $vips } adresses IP virtuelles de produit, et { $groups } groupes de serveurs par niveau à droite. Les lignes représentent le trafic : { $legend }.
col-users = Types d'utilisateur
col-gateway = Routeur passerelle
col-remote = Accès distant
col-balancer = Équilibreur de charge
col-front-end = Frontal / accès client
col-application = Application
col-database = Stockage / base de données
box-gateway = Routeur passerelle avec LCA
box-balancer = Équilibreur de charge et proxy inverse
box-balancer-note = Terminaison TLS et pré-authentification
box-vip = Adresse IP virtuelle { $product }
box-dns = DNS fractionné
box-cloud-mail = Hygiène de messagerie cloud
box-cloud-mail-note = Exchange Online Protection
label-zones = zones : { $zones }
label-auth = authentification : { $auth }
label-servers = { $count ->
    [0] aucun serveur
    [one] un serveur
   *[other] { $count } serveurs
}
label-server-ports = serveurs : { $ports }
label-rule = { $rule } : { $action }
label-servers-at = { $servers } : { $hosts }
label-pools = pools : { $pools }
label-acl-allow = autoriser { $what }
label-acl-deny = refuser { $what }
label-acl-from = depuis { $from }
label-acl-else = tout le reste : refuser
label-dns-views = vues : { $views }
label-dns-balanced = équilibrage DNS : { $names }
legend-row = { $class } : { $ports }
legend-title = Légende
legend-between-tiers = Pointillés : entre niveaux de serveur
