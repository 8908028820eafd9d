# Mensajes en español de `gatehouse describe` y `gatehouse diagram`.
# Terminología de la edición española del póster (citada en docs/reference.md).
# Los nombres de la topología llegan ya marcados como `código`: consérvense.

## Listas

list-and = { $first } y { $last }
list-or = { $first } o { $last }

## Productos, niveles y roles de servidor

product-lync = Lync
product-sharepoint = SharePoint
product-exchange = Exchange
product-office-web-apps = Office Web Apps
product-generic = otros servicios

tier-front-end = front-end
tier-application = aplicación
tier-database = base de datos y almacenamiento
tier-edge = perimetral

role-lync-front-end = Granja de servidores de Lync (front-end)
role-lync-database = Base de datos de Lync (back-end)
role-lync-edge = Servidor perimetral de Lync
role-sharepoint-front-end = Servidor front-end web de SharePoint y caché distribuida
role-sharepoint-application = SharePoint: búsqueda (consulta, índice, administración) y procesamiento por lotes
role-sharepoint-database = Bases de datos de SharePoint
role-exchange-front-end = Servidores de acceso de cliente de Exchange (CAS)
role-exchange-database = Servidores de buzones de Exchange
role-office-web-apps-front-end = Office Web Apps Server
role-generic = { $product }: servidores de { $tier }

## Tipos de usuario de la arquitectura de referencia

user-type-partner-companies = Empresas asociadas (negocio a negocio)
user-type-individual-partners-and-anonymous = Asociados particulares (SharePoint) y anónimos (Lync)
user-type-remote-employees = Empleados remotos y con movilidad
user-type-internal-employees = Empleados internos

## Clases de tráfico y líneas de la leyenda

class-lync-sip = tráfico SIP de Lync
class-lync-web = tráfico de Lync Web
class-sharepoint = tráfico de cliente de SharePoint
class-exchange-client = tráfico de cliente de Exchange
class-exchange-mail = tráfico del servidor de correo de Exchange
line-green = Línea verde
line-blue = Línea azul
line-purple = Línea púrpura
line-orange = Línea naranja
line-grey = Línea gris

## Puertos que nombra el póster

port-tcp-25 = SMTP
port-tcp-53 = DNS
port-udp-53 = DNS
port-tcp-80 = HTTP
port-tcp-110 = POP3
port-tcp-143 = IMAP4
port-tcp-443 = HTTPS, TLS
port-tcp-587 = envío SMTP
port-tcp-993 = IMAP4 cifrado
port-tcp-995 = POP3 cifrado
port-tcp-1433 = SQL Server
port-tcp-4443 = servicios web externos de Lync
port-tcp-5061 = SIP sobre TLS
port-tcp-5269 = XMPP
port-tcp-8080 = servicios web externos de Lync, HTTP
port-udp-3478 = A/V, STUN y TURN
port-tcp-50000-59999 = medios de A/V, SRTP

## Autenticación

auth-forms = autenticación basada en formularios
auth-basic = autenticación básica mediante TLS
auth-saml = autenticación SAML
auth-client-certificate = autenticación TLS mutua con certificado de cliente
auth-negotiate = Kerberos o NTLM (Negotiate)
auth-anonymous = acceso anónimo
auth-pass-through = autenticación en los servidores (NTLM, Kerberos, TLS-DSK o SAML)
flow-auth-anonymous = Autenticación: anónima; el proxy inverso no pide iniciar sesión.
flow-auth-pass-through = Autenticación: en los servidores; NTLM, Kerberos, TLS-DSK o SAML atraviesan el proxy inverso.
flow-auth-refused = La ruta rechaza esta zona.
flow-auth-preauth = Autenticación: { $method } con { $provider }, en el proxy inverso, antes de que el tráfico llegue a los servidores.
flow-auth-not-enforced = gatehouse aún no aplica este método: hasta que lo haga, rechaza estas solicitudes con HTTP 503 (inicio de sesión no disponible) y nada llega a los servidores.
flow-auth-layer4 = Autenticación: en los servidores; TLS atraviesa el equilibrador de carga sin abrirse.
flow-auth-direct = Autenticación: en los servidores; los clientes se conectan a ellos directamente.

## Dispositivos y saltos

device-vpn = puerta de enlace VPN
device-directaccess = servidor de DirectAccess
device-remote-access = servidor de acceso remoto
hop-gateway = enrutador de puerta de enlace ({ $count ->
    [one] regla de ACL
   *[other] reglas de ACL
} { $rules })
hop-gateway-blocked = enrutador de puerta de enlace, que lo bloquea: ninguna regla de ACL lo permite
hop-remote-access = { $device } (zona { $zone })
hop-edge-vip = { $count ->
    [one] dirección VIP perimetral
   *[other] direcciones VIP perimetrales
} de { $product } (equilibrador de carga) en { $endpoints }
hop-reverse-proxy = dirección VIP de { $product } (equilibrador de carga/servidor proxy inverso) en { $endpoints }
hop-hlb = equilibrador de carga de hardware (HLB), que se requiere para el tráfico HTTPS de Lync
hop-vip = dirección VIP de { $product } (equilibrador de carga) en { $endpoints }
hop-dns = equilibrio de carga de DNS de { $name }
hop-servers = { $role } ({ $count ->
    [one] un servidor
   *[other] { $count } servidores
}; { $npools ->
    [one] grupo
   *[other] grupos
} { $pools })
hop-servers-port = { $role } (puerto { $port } en { $count ->
    [one] un servidor
   *[other] { $count } servidores
}; { $npools ->
    [one] grupo
   *[other] grupos
} { $pools })

## Título y resumen

title = Diagrama accesible: integración de red de { $name }
summary-label = Resumen:
summary = este artículo es la versión de texto accesible del diagrama de la red de { $name }. gatehouse genera ambos a partir del mismo archivo de topología, así que siempre dicen lo mismo.
intro = Esta red publica { $products } para usuarios internos y externos a través de dispositivos de red compartidos: un enrutador de puerta de enlace con ACL, un equilibrador de carga con una dirección VIP por producto, un proxy inverso que termina TLS y autentica previamente a los usuarios, y DNS dividido. gatehouse desempeña cada uno de esos dispositivos.

## Acerca del diseño

h-concepts = Conceptos de alto nivel para { $products }
h-about-design = Acerca del diseño
h-streamlined = Diseño de red simplificado
design-counts = La topología tiene { $zones ->
    [one] una zona
   *[other] { $zones } zonas
}, { $listeners ->
    [one] un agente de escucha (VIP)
   *[other] { $listeners } agentes de escucha (VIP)
}, { $pools ->
    [one] un grupo de servidores
   *[other] { $pools } grupos de servidores
}, { $routes ->
    [one] una ruta
   *[other] { $routes } rutas
} y { $usertypes ->
    [one] un tipo de usuario
   *[other] { $usertypes } tipos de usuario
}.
design-this-diagram = Este diagrama:
design-point-traffic = Ilustra el tráfico entrante y saliente a través del enrutador de puerta de enlace y el equilibrio de carga del tráfico (externo e interno) de sesiones de cliente a los niveles de servidor de { $products }.
design-point-remote = Muestra los servidores de acceso remoto: { $devices }.
design-point-flow = Describe el flujo de tráfico desde el cliente a cada nivel de servidor.
design-point-auth = Identifica, para cada tipo de usuario, si su acceso es remoto o interno y el método de autenticación que usa.
design-point-tiers = Divide las plataformas según los roles de servidor en los niveles front-end, de aplicación y de base de datos.
design-example-only = Esta arquitectura no sugiere una forma preferente de implementar estas plataformas: es un ejemplo, y las topologías varían en función de la seguridad y de los requisitos de red.
h-gateway = Enrutador de puerta de enlace
gateway-role = El enrutador de puerta de enlace se encuentra en el perímetro de la red y enruta todo el tráfico entrante y saliente hacia y desde la intranet. Sus listas de control de acceso (ACL) permiten solo tráfico IP muy específico en sus interfaces.
gateway-acl = { $count ->
    [0] La ACL no tiene reglas, así que lo deniega todo:
    [one] La ACL tiene una regla; se deniega todo lo que no permita:
   *[other] La ACL tiene { $count } reglas, que se evalúan en orden; decide la primera que coincide, y se deniega lo que no coincide con ninguna:
}
acl-allow = { $rule }: permitir { $what } desde { $from }
acl-deny = { $rule }: denegar { $what } desde { $from }
acl-any-port = todos los puertos
acl-anywhere = cualquier origen
acl-implicit-deny = Todo lo demás: denegar.
h-balancer = Equilibrador de carga y dispositivos de proxy inverso
balancer-role = El equilibrador de carga publica una dirección IP virtual (VIP) por producto y reparte las sesiones de cliente entre los grupos de servidores, comprobando el estado de cada miembro. El proxy inverso termina TLS en TCP 443, autentica previamente a los usuarios antes de que su tráfico llegue a los servidores y es el punto único de administración de los certificados (certificados { $certificates }).
vip-line = Dirección VIP de { $product }: { $addresses }, para { $count ->
    [one] el nombre
   *[other] los nombres
} { $names }.
vip-dns-balanced = SIP usa en cambio el equilibrio de carga de DNS: { $name } enumera los miembros en buen estado del grupo { $pool } ({ $count ->
    [one] un servidor
   *[other] { $count } servidores
}).
balancer-guidance-intro = Cómo se equilibra cada producto:
algorithm-round-robin = round robin
algorithm-weighted-round-robin = round robin ponderado
algorithm-least-connections = menos conexiones
algorithm-source-hash = hash del origen
affinity-none = sin afinidad
affinity-cookie = afinidad por cookie
affinity-source-ip = afinidad por IP de origen
balancing-line = { $product }: { $algorithms }; { $layer4 ->
    [0] ningún grupo
    [one] un grupo
   *[other] { $layer4 } grupos
} en el nivel 4 y { $layer7 ->
    [0] ninguno
    [one] uno
   *[other] { $layer7 }
} en el nivel 7 a través del proxy inverso{ $layer7 ->
    [0] .
   *[other] { "" } ({ $affinity }).
}
balancing-dns = Equilibrio de carga de DNS para { $pools }.
guidance-lync = Se recomienda el equilibrio de carga de DNS para el tráfico SIP de las granjas de servidores de Lync; el equilibrio de carga de hardware (HLB) es necesario para el tráfico de Lync Web (HTTPS).
guidance-sharepoint = En SharePoint 2013 no es necesario habilitar la afinidad de los servidores front-end web: el servicio de caché distribuida almacena y distribuye los tokens de inicio de sesión entre los servidores web.
guidance-exchange = En Exchange 2013, el rol de CAS está diseñado para el equilibrio de carga de nivel 4, lo que reduce considerablemente la carga del equilibrador de carga.
h-remote-access = Opciones de acceso remoto
remote-intro = Hay varias opciones para publicar en Internet los recursos de la intranet para los asociados o proporcionar acceso remoto seguro a los empleados remotos o con movilidad:
remote-reverse-proxy = Proxy inverso: TLS (TCP 443) entre el cliente y el proxy inverso, que autentica previamente en { $routes ->
    [one] una ruta
   *[other] { $routes } rutas
} con { $count ->
    [one] este proveedor de identidad
   *[other] estos proveedores de identidad
}: { $providers }.
remote-zone = { $device }: sus clientes llegan a la zona { $zone } ({ $prefixes }).
remote-directaccess = DirectAccess usa tráfico protegido por IPsec (protocolos IP 50 y 51, y UDP 500) entre el cliente y el servidor; una puerta de enlace VPN proyecta el equipo cliente en la intranet a través de un túnel que inicia el usuario.
remote-lync = No se recomienda DirectAccess ni VPN para Lync (latencia de audio y vídeo): el tráfico remoto de Lync debe usar el servidor perimetral y el túnel dividido.
h-dns = Consideraciones sobre el Sistema de nombres de dominio (DNS)
dns-none = La topología no tiene sección DNS: gatehouse no responde consultas DNS.
dns-intro = gatehouse sirve DNS dividido para { $apex } en { $listen }: cada vista responde a sus zonas con las direcciones VIP que esas zonas pueden usar.
dns-view = Vista { $view }, para las zonas { $zones }:
dns-records = Otros registros:
dns-guidance-intro = Recomendaciones del póster sobre DNS:
dns-record-in-views = { $record } (vistas { $views })
dns-guidance-public = El DNS público resuelve en direcciones públicas los nombres del enrutador de puerta de enlace, del servidor perimetral de Lync, de las direcciones VIP del equilibrador de carga y de la puerta de enlace VPN o DirectAccess.
dns-guidance-intranet = El DNS de la intranet resuelve los nombres de Exchange, SharePoint y Lync en las direcciones VIP internas del equilibrador de carga.
dns-guidance-directaccess = Los clientes de DirectAccess usan el DNS de la intranet para el espacio de nombres de la intranet y el DNS de Internet para los demás; conviene un espacio de nombres dividido (por ejemplo, contoso.com fuera y corp.contoso.com dentro). Los clientes de VPN se pueden configurar para usar solo el DNS de la intranet mientras están conectados.
dns-guidance-exchange = Exchange usa DNS dividido: como mínimo, registros para OWA, la detección automática, ActiveSync y un registro MX; con Exchange Online Protection, el registro MX señala a ese servicio en lugar de a los servidores de Exchange; el uso compartido federado necesita un registro TXT de prueba de propiedad.

## Componentes del diagrama

h-diagram = Descripción del diagrama
diagram-intro = Este diagrama proporciona un ejemplo de topología de red que ilustra el tráfico entrante y saliente a través de un enrutador de puerta de enlace y el equilibrio de carga de las sesiones de cliente a los niveles de servidor adecuados. Su descripción se divide en dos partes: los componentes mostrados en el diagrama y cómo se mueve el tráfico a través de ellos hasta los niveles de servidor.
h-components = Descripción de componentes mostrados en el diagrama
h-user-types = Tipos de usuario
user-types-count = Hay { $count ->
    [one] un tipo de usuario
   *[other] { $count } tipos de usuario
}: { $external } externos y { $internal } internos.
user-type-external = { $label }: externo (zonas { $zones })
user-type-internal = { $label }: interno (zonas { $zones })
h-cloud-mail = Tráfico de correo electrónico basado en la nube
cloud-mail-component = El componente basado en la nube para el tráfico de correo electrónico SMTP son los hosts de correo de Internet o Exchange Online Protection: zona { $zones } ({ $count ->
    [one] un prefijo
   *[other] { $count } prefijos
}).
h-external-auth = Autenticación para acceso externo
external-auth = Cada tipo de usuario tiene su propia autenticación para Lync, SharePoint y Exchange; se describe más adelante junto con el tráfico de cada tipo de usuario.
h-gateway-acl = Enrutador de puerta de enlace con ACL
gateway-acl-component = El enrutador de puerta de enlace se encuentra en el perímetro de la red y enruta todo el tráfico entrante y saliente hacia y desde la intranet, mediante { $count ->
    [one] una regla de ACL
   *[other] { $count } reglas de ACL
} (enumeradas arriba).
h-remote-servers = Servidores de acceso remoto para Lync y SharePoint
edge-component = { $role }: { $count ->
    [one] un servidor
   *[other] { $count } servidores
} ({ $hosts }, grupo { $pools }), publicado en { $vips }.
remote-zone-component = { $device }: zona { $zone }.
h-balancer-device = Equilibrador de carga y dispositivo de proxy inverso
balancer-component = Esta topología muestra las direcciones VIP de { $products } en el equilibrador de carga.
h-servers = Servidores
servers-intro = Hay { $count ->
    [one] un producto
   *[other] { $count } productos
}: { $products }. Cada uno puede tener tres niveles: front-end (acceso de cliente), aplicación y base de datos o almacenamiento.
h-tier-front-end = Nivel de acceso de cliente front-end
h-tier-application = Capa de aplicación
h-tier-database = Nivel de base de datos y almacenamiento de información
server-group = { $role }: { $count ->
    [one] un servidor
   *[other] { $count } servidores
} ({ $hosts }); { $npools ->
    [one] grupo
   *[other] grupos
} { $pools }.

## Cómo se mueve el tráfico

h-movement = Descripción de cómo se mueve el tráfico a través de los componentes a los distintos niveles de servidor
movement-intro = Esta sección describe cómo se mueven las solicitudes del usuario a través de la topología de red.
h-external-routing = Autenticación y enrutamiento para acceso externo
external-routing-intro = Hay { $count ->
    [one] un tipo de usuario externo
   *[other] { $count } tipos de usuario externos
}:
external-routing-each = El proceso de autenticación y enrutamiento de cada tipo de usuario externo se describe de manera individual.
h-internal-auth = Autenticación para acceso interno
user-type-declared = Zonas { $zones }; autenticación: { $auth }. Accede a:
product-not-applicable = : no aplica.
user-type-unpublished = Declarados pero no publicados para ninguna de sus zonas: { $names }.
flow-line = Desde { $zones }, { $names }: { $path }.
cloud-mail-intro = Estos componentes mueven el tráfico de correo electrónico a través de la red mediante SMTP:
cloud-mail-mx = El registro MX señala a { $target }.

## Leyenda

h-legend = Leyenda de tráfico de red
legend-intro = El cuadro de la leyenda muestra de forma gráfica, con líneas de diferentes colores, los distintos tipos de tráfico:
legend-line = { $line }: { $class } ({ $ports }).
legend-outro = En el cuadro de la leyenda también se describen los puertos que usa cada tipo de tráfico, nombre por nombre:
legend-note-sharepoint = { $open ->
    [yes] Para el acceso externo desde Internet, este puerto debe abrirse para el tráfico entrante y saliente en el enrutador de puerta de enlace, y lo está.
   *[no] Para el acceso externo desde Internet, este puerto debe abrirse para el tráfico entrante y saliente en el enrutador de puerta de enlace; no está abierto para todas las zonas externas.
}

## Etiquetas del diagrama

diagram-title = { $name }: integración de red de los productos de servidor de Microsoft Office
diagram-subtitle = Dibujado por gatehouse a partir de la topología; gatehouse desempeña el enrutador de puerta de enlace, el equilibrador de carga, el proxy inverso y el DNS dividido.
diagram-desc = Diagrama de red de { $name }: { $usertypes } tipos de usuario a la izquierda, el enrutador de puerta de enlace con { $rules } reglas de ACL, los servidores de acceso remoto, el equilibrador de carga y proxy inverso con { $vips } direcciones VIP de producto, y { $groups } grupos de servidores por nivel a la derecha. Las líneas muestran el tráfico: { $legend }.
col-users = Tipos de usuario
col-gateway = Enrutador de puerta de enlace
col-remote = Acceso remoto
col-balancer = Equilibrador de carga
col-front-end = Front-end / acceso de cliente
col-application = Aplicación
col-database = Base de datos / almacenamiento
box-gateway = Enrutador de puerta de enlace con ACL
box-balancer = Equilibrador de carga y proxy inverso
box-balancer-note = Terminación TLS y autenticación previa
box-vip = Dirección VIP de { $product }
box-dns = DNS dividido
box-cloud-mail = Higiene de correo en la nube
box-cloud-mail-note = Exchange Online Protection
label-zones = zonas: { $zones }
label-auth = autenticación: { $auth }
label-servers = { $count ->
    [one] un servidor
   *[other] { $count } servidores
}
label-server-ports = servidores: { $ports }
label-rule = { $rule }: { $action }
label-servers-at = { $servers }: { $hosts }
label-pools = grupos: { $pools }
label-acl-allow = permitir { $what }
label-acl-deny = denegar { $what }
label-acl-from = desde { $from }
label-acl-else = todo lo demás: denegar
label-dns-views = vistas: { $views }
label-dns-balanced = equilibrio por DNS: { $names }
legend-row = { $class }: { $ports }
legend-title = Leyenda
legend-between-tiers = Discontinua: entre niveles de servidor
