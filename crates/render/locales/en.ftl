# English messages of `gatehouse describe` and `gatehouse diagram`.
# Names from the topology arrive already marked as `code`; keep the marks.

## Lists

list-and = { $first } and { $last }
list-or = { $first } or { $last }

## Products, tiers and server roles (the poster's names)

product-lync = Lync
product-sharepoint = SharePoint
product-exchange = Exchange
product-office-web-apps = Office Web Apps
product-generic = other services

tier-front-end = front end
tier-application = application
tier-database = database and storage
tier-edge = Edge

role-lync-front-end = Lync pool (front end)
role-lync-database = Lync back-end database
role-lync-edge = Lync Edge server
role-sharepoint-front-end = SharePoint web front end and distributed cache
role-sharepoint-application = SharePoint search (query, index, administration) and batch processing
role-sharepoint-database = SharePoint databases
role-exchange-front-end = Exchange Client Access servers (CAS)
role-exchange-database = Exchange Mailbox servers
role-office-web-apps-front-end = Office Web Apps Server
role-generic = { $product }: { $tier } servers

## User types of the reference architecture

user-type-partner-companies = Partner companies (B2B)
user-type-individual-partners-and-anonymous = Individual partners (SharePoint) and anonymous users (Lync)
user-type-remote-employees = Roaming and remote employees
user-type-internal-employees = Internal employees

## Traffic classes and the legend's lines

class-lync-sip = Lync SIP traffic
class-lync-web = Lync web traffic
class-sharepoint = SharePoint client traffic
class-exchange-client = Exchange client traffic
class-exchange-mail = Exchange mail server traffic
line-green = Green line
line-blue = Blue line
line-purple = Purple line
line-orange = Orange line
line-grey = Grey line

## Ports the poster names

port-tcp-25 = SMTP
port-tcp-53 = DNS
port-udp-53 = DNS
port-tcp-80 = HTTP
port-tcp-110 = POP3
port-tcp-143 = IMAP4
port-tcp-443 = HTTPS, TLS
port-tcp-587 = SMTP submission
port-tcp-993 = encrypted IMAP4
port-tcp-995 = encrypted POP3
port-tcp-1433 = SQL Server
port-tcp-4443 = Lync external web services
port-tcp-5061 = SIP over TLS
port-tcp-5269 = XMPP
port-tcp-8080 = Lync external web services, HTTP
port-udp-3478 = A/V, STUN and TURN
port-tcp-50000-59999 = A/V media, SRTP

## Authentication

auth-forms = forms-based authentication
auth-basic = Basic authentication over TLS
auth-saml = SAML authentication
auth-client-certificate = mutual TLS authentication with a client certificate
auth-negotiate = Kerberos or NTLM (Negotiate)
auth-anonymous = anonymous access
auth-pass-through = authentication by the servers (NTLM, Kerberos, TLS-DSK or SAML)
flow-auth-anonymous = Authentication: anonymous; the reverse proxy asks for no sign-in.
flow-auth-pass-through = Authentication: by the servers; NTLM, Kerberos, TLS-DSK or SAML pass through the reverse proxy.
flow-auth-refused = The route refuses this zone.
flow-auth-preauth = Authentication: { $method } with { $provider }, at the reverse proxy, before any traffic reaches the servers.
flow-auth-not-enforced = gatehouse does not enforce this method yet: until it does, it refuses these requests with HTTP 503 (sign-in unavailable), and nothing reaches the servers.
flow-auth-layer4 = Authentication: by the servers; TLS passes through the load balancer unopened.
flow-auth-direct = Authentication: by the servers; clients connect to them directly.

## Devices and hops

device-vpn = VPN gateway
device-directaccess = DirectAccess server
device-remote-access = remote-access server
hop-gateway = gateway router (ACL { $count ->
    [one] rule
   *[other] rules
} { $rules })
hop-gateway-blocked = gateway router, which blocks it: no ACL rule allows it
hop-remote-access = { $device } (zone { $zone })
hop-edge-vip = { $product } Edge { $count ->
    [one] VIP
   *[other] VIPs
} (load balancer) at { $endpoints }
hop-reverse-proxy = { $product } VIP (load balancer/reverse proxy) at { $endpoints }
hop-hlb = hardware load balancer (HLB), required for HTTPS traffic to Lync
hop-vip = { $product } VIP (load balancer) at { $endpoints }
hop-dns = DNS load balancing of { $name }
hop-servers = { $role } ({ $count ->
    [one] one server
   *[other] { $count } servers
}; { $npools ->
    [one] pool
   *[other] pools
} { $pools })
hop-servers-port = { $role } (port { $port } on { $count ->
    [one] one server
   *[other] { $count } servers
}; { $npools ->
    [one] pool
   *[other] pools
} { $pools })

## Title and summary

title = Accessible diagram: network integration of { $name }
summary-label = Summary:
summary = This article is the accessible text version of the diagram of the { $name } network. gatehouse generates both from the same topology file, so they always say the same.
intro = This network publishes { $products } to internal and external users through shared network devices: a gateway router with ACLs, a load balancer with one VIP per product, a reverse proxy that terminates TLS and pre-authenticates users, and split DNS. gatehouse plays each of those devices.

## About the design

h-concepts = High-level concepts for { $products }
h-about-design = About the design
h-streamlined = Streamlined network design
design-counts = The topology has { $zones ->
    [one] one zone
   *[other] { $zones } zones
}, { $listeners ->
    [one] one listener (VIP)
   *[other] { $listeners } listeners (VIPs)
}, { $pools ->
    [one] one server pool
   *[other] { $pools } server pools
}, { $routes ->
    [one] one route
   *[other] { $routes } routes
} and { $usertypes ->
    [one] one user type
   *[other] { $usertypes } user types
}.
design-this-diagram = This diagram:
design-point-traffic = Shows the inbound and outbound traffic through the gateway router and the load balancing of external and internal client sessions to the server tiers of { $products }.
design-point-remote = Shows the remote-access servers: { $devices }.
design-point-flow = Describes the flow of traffic from the client to each server tier.
design-point-auth = Identifies, for each user type, whether its access is remote or internal and the authentication method it uses.
design-point-tiers = Divides the platforms by server role into front-end, application and database tiers.
design-example-only = This architecture does not suggest a preferred way to deploy these platforms: it is one example, and topologies vary with security needs and network requirements.
h-gateway = Gateway router
gateway-role = The gateway router sits at the network edge and routes all traffic in and out of the intranet. Its access control lists (ACLs) allow only very specific IP traffic on its interfaces.
gateway-acl = { $count ->
    [0] The ACL has no rules, so it denies everything:
    [one] The ACL has one rule; anything it does not allow is denied:
   *[other] The ACL has { $count } rules, evaluated in order; the first that matches decides, and anything that matches none is denied:
}
acl-allow = { $rule }: allow { $what } from { $from }
acl-deny = { $rule }: deny { $what } from { $from }
acl-any-port = every port
acl-anywhere = anywhere
acl-implicit-deny = Anything else: deny.
h-balancer = Load balancer and reverse proxy devices
balancer-role = The load balancer publishes one virtual IP address (VIP) per product and spreads client sessions over the server pools, checking the health of each member. The reverse proxy terminates TLS on TCP 443, pre-authenticates users before their traffic reaches the servers, and is the one place where certificates are managed (certificates { $certificates }).
vip-line = { $product } VIP: { $addresses }, for { $count ->
    [one] the name
   *[other] the names
} { $names }.
vip-dns-balanced = SIP uses DNS load balancing instead: { $name } lists the healthy members of pool { $pool } ({ $count ->
    [one] one server
   *[other] { $count } servers
}).
balancer-guidance-intro = How each product is balanced:
algorithm-round-robin = round robin
algorithm-weighted-round-robin = weighted round robin
algorithm-least-connections = least connections
algorithm-source-hash = source hash
affinity-none = no affinity
affinity-cookie = cookie affinity
affinity-source-ip = source-IP affinity
balancing-line = { $product }: { $algorithms }; { $layer4 ->
    [0] no pool
    [one] one pool
   *[other] { $layer4 } pools
} at layer 4 and { $layer7 ->
    [0] none
    [one] one
   *[other] { $layer7 }
} at layer 7 through the reverse proxy{ $layer7 ->
    [0] .
   *[other] { "" } ({ $affinity }).
}
balancing-dns = DNS load balancing for { $pools }.
guidance-lync = DNS load balancing is recommended for SIP traffic to Lync pools; a hardware load balancer (HLB) is required for Lync web (HTTPS) traffic.
guidance-sharepoint = SharePoint 2013 does not need front-end affinity: its distributed cache stores and shares sign-in tokens across the web front ends.
guidance-exchange = Exchange 2013: the Client Access role is designed for layer-4 load balancing, which greatly reduces the load on the load balancer.
h-remote-access = Remote access options
remote-intro = Several options publish intranet resources to partners on the Internet or give remote and roaming employees secure access:
remote-reverse-proxy = Reverse proxy: TLS (TCP 443) between the client and the reverse proxy, which pre-authenticates on { $routes ->
    [one] one route
   *[other] { $routes } routes
} with { $count ->
    [one] this identity provider
   *[other] these identity providers
}: { $providers }.
remote-zone = { $device }: its clients arrive in zone { $zone } ({ $prefixes }).
remote-directaccess = DirectAccess uses IPsec (IP protocols 50 and 51, UDP 500) between client and server; a VPN gateway projects the client into the intranet through a tunnel the user starts.
remote-lync = Neither DirectAccess nor VPN is recommended for Lync (audio and video latency): remote Lync traffic should use the Edge server and split tunnelling.
h-dns = Domain Name System (DNS) considerations
dns-none = The topology has no DNS section: gatehouse answers no DNS queries.
dns-intro = gatehouse serves split DNS for { $apex } on { $listen }: each view answers the zones it serves with the VIPs those zones may use.
dns-view = View { $view }, for zones { $zones }:
dns-records = Other records:
dns-guidance-intro = The poster's DNS guidance:
dns-record-in-views = { $record } (views { $views })
dns-guidance-public = Public DNS resolves the names of the gateway router, the Lync Edge server, the VIPs on the load balancer and the VPN or DirectAccess gateway to public addresses.
dns-guidance-intranet = Intranet DNS resolves the names of Exchange, SharePoint and Lync to the internal VIPs of the load balancer.
dns-guidance-directaccess = DirectAccess clients use intranet DNS for the intranet namespace and Internet DNS for the rest; a split namespace helps (for example contoso.com outside and corp.contoso.com inside). VPN clients may be set to use only intranet DNS while connected.
dns-guidance-exchange = Exchange uses split DNS: at least records for OWA, Autodiscover, ActiveSync and an MX record; with Exchange Online Protection the MX record points to that service rather than to the Exchange servers; federated sharing needs a TXT ownership-proof record.

## The diagram's components

h-diagram = Diagram description
diagram-intro = This diagram shows an example network topology: inbound and outbound traffic through a gateway router, and the load balancing of client sessions to the right server tiers. Its description has two parts: the components shown in the diagram, and how traffic moves through them to the server tiers.
h-components = Description of components shown in the diagram
h-user-types = User types
user-types-count = There { $count ->
    [one] is one user type
   *[other] are { $count } user types
}: { $external } external and { $internal } internal.
user-type-external = { $label }: external (zones { $zones })
user-type-internal = { $label }: internal (zones { $zones })
h-cloud-mail = Cloud-based email traffic
cloud-mail-component = The cloud-based component for SMTP email traffic is Exchange Online Protection or Internet mail hosts: zone { $zones } ({ $count ->
    [one] one prefix
   *[other] { $count } prefixes
}).
h-external-auth = Authentication for external access
external-auth = Each user type has its own authentication for Lync, SharePoint and Exchange; it is described with the traffic of each user type below.
h-gateway-acl = Gateway router with ACLs
gateway-acl-component = The gateway router sits at the network edge and routes all traffic in and out of the intranet, through { $count ->
    [one] one ACL rule
   *[other] { $count } ACL rules
} (listed above).
h-remote-servers = Remote-access servers for Lync and SharePoint
edge-component = { $role }: { $count ->
    [one] one server
   *[other] { $count } servers
} ({ $hosts }, pool { $pools }), published at { $vips }.
remote-zone-component = { $device }: zone { $zone }.
h-balancer-device = Load balancer and reverse proxy device
balancer-component = This topology shows the VIPs of { $products } on the load balancer.
h-servers = Servers
servers-intro = There { $count ->
    [one] is one product
   *[other] are { $count } products
}: { $products }. Each can have three tiers: front end (client access), application, and database or storage.
h-tier-front-end = Front-end client access tier
h-tier-application = Application tier
h-tier-database = Database/storage tier
server-group = { $role }: { $count ->
    [one] one server
   *[other] { $count } servers
} ({ $hosts }); { $npools ->
    [one] pool
   *[other] pools
} { $pools }.

## How traffic moves

h-movement = Description of how traffic moves through the components to the different server tiers
movement-intro = This section describes how user requests move through the network topology.
h-external-routing = Authentication and routing for external access
external-routing-intro = There { $count ->
    [one] is one external user type
   *[other] are { $count } external user types
}:
external-routing-each = The authentication and routing of each external user type is described separately.
h-internal-auth = Authentication for internal access
user-type-declared = Zones { $zones }; authentication: { $auth }. It reaches:
product-not-applicable = : not applicable.
user-type-unpublished = Declared but published to none of its zones: { $names }.
flow-line = From { $zones }, { $names }: { $path }.
cloud-mail-intro = These components move email through the network with SMTP:
cloud-mail-mx = The MX record points to { $target }.

## Legend

h-legend = Network traffic legend
legend-intro = The legend box shows the traffic types as lines of different colours:
legend-line = { $line }: { $class } ({ $ports }).
legend-outro = The legend box also gives the ports each type of traffic uses, name by name:
legend-note-sharepoint = { $open ->
    [yes] For external access, this port must be open inbound and outbound on the gateway router, and it is.
   *[no] For external access, this port must be open inbound and outbound on the gateway router; it is not open to every outside zone.
}

## Diagram labels

diagram-title = { $name }: network integration of Microsoft Office server products
diagram-subtitle = Drawn by gatehouse from the topology; gatehouse plays the gateway router, the load balancer, the reverse proxy and split DNS.
diagram-desc = Network diagram of { $name }: { $usertypes } user types on the left, the gateway router with { $rules } ACL rules, the remote-access servers, the load balancer and reverse proxy with { $vips } product VIPs, and { $groups } server groups by tier on the right. Lines show the traffic: { $legend }.
col-users = User types
col-gateway = Gateway router
col-remote = Remote access
col-balancer = Load balancer
col-front-end = Front end / client access
col-application = Application
col-database = Database / storage
box-gateway = Gateway router with ACLs
box-balancer = Load balancer and reverse proxy
box-balancer-note = TLS termination and pre-authentication
box-vip = { $product } VIP
box-dns = Split DNS
box-cloud-mail = Cloud mail hygiene
box-cloud-mail-note = Exchange Online Protection
label-zones = zones: { $zones }
label-auth = auth: { $auth }
label-servers = { $count ->
    [one] one server
   *[other] { $count } servers
}
label-server-ports = servers: { $ports }
label-rule = { $rule }: { $action }
label-servers-at = { $servers }: { $hosts }
label-pools = pools: { $pools }
label-acl-allow = allow { $what }
label-acl-deny = deny { $what }
label-acl-from = from { $from }
label-acl-else = anything else: deny
label-dns-views = views: { $views }
label-dns-balanced = DNS-balanced: { $names }
legend-row = { $class }: { $ports }
legend-title = Legend
legend-between-tiers = Dashed: between server tiers
