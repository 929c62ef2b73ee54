"""The page's words in English, Spanish and French: a small catalogue keyed by the English text.

A word missing from a language shows in English (tests/test_web_pages.py checks
that every word the templates use has both translations). Messages of the
library (refusals) stay in English: they are the same lines the CLI prints.
The web layer's own refusals (a cut upload, a missing form token) are made
with :func:`refuse` and shown in the page's language (the English text, with
``{name}`` placeholders, is the key; tests check every one is translated).
"""

from __future__ import annotations

from typing import Callable

from vault.errors import RefugeError

LANGUAGES = {"en": "English", "es": "Español", "fr": "Français"}

# English ¦ Spanish ¦ French, one entry a line.
_TABLE = """
Action ¦ Acción ¦ Action
Add documents ¦ Añadir documentos ¦ Ajouter des documents
Add tags ¦ Añadir etiquetas ¦ Ajouter des étiquettes
Added ¦ Añadido ¦ Ajouté
Audit log ¦ Registro de auditoría ¦ Journal d'audit
Back to your cases ¦ Volver a sus casos ¦ Retour à vos dossiers
Build and sign ¦ Generar y firmar ¦ Générer et signer
Building ¦ Generando ¦ Génération
Building the packet ¦ Generando el expediente ¦ Génération du dossier de transmission
Built ¦ Generado ¦ Généré
By ¦ Por ¦ Par
Case ¦ Caso ¦ Dossier
Cases ¦ Casos ¦ Dossiers
Change ¦ Cambiar ¦ Changer
Checkpoint saved earlier (optional) ¦ Punto de control guardado antes (opcional) ¦ Point de contrôle enregistré (facultatif)
Consent ¦ Consentimiento ¦ Consentement
Document ¦ Documento ¦ Document
Documents ¦ Documentos ¦ Documents
Documents (none chosen: all) ¦ Documentos (ninguno elegido: todos) ¦ Documents (aucun choisi : tous)
Download ¦ Descargar ¦ Télécharger
Download the original ¦ Descargar el original ¦ Télécharger l'original
Download the packet ¦ Descargar el expediente ¦ Télécharger le dossier
Drop files here, or choose them: ¦ Suelte los archivos aquí, o elíjalos: ¦ Déposez les fichiers ici, ou choisissez-les :
Expires ¦ Vence ¦ Expire le
File ¦ Archivo ¦ Fichier
Flags ¦ Señales ¦ Signalements
Grant ¦ Conceder ¦ Accorder
Grant to ¦ Conceder a ¦ Accorder à
Language ¦ Idioma ¦ Langue
Lock ¦ Bloquear ¦ Verrouiller
Members ¦ Miembros ¦ Membres
Note ¦ Nota ¦ Note
Nothing found. ¦ No se encontró nada. ¦ Rien trouvé.
Packet ¦ Expediente ¦ Dossier de transmission
Packets ¦ Expedientes ¦ Dossiers de transmission
Packets sent ¦ Expedientes enviados ¦ Dossiers envoyés
Page ¦ Página ¦ Page
Pages ¦ Páginas ¦ Pages
Person ¦ Persona ¦ Personne
Plan ¦ Planificar ¦ Planifier
Plan for ¦ Plan para ¦ Plan pour
Recipient ¦ Destinatario ¦ Destinataire
Record consent ¦ Registrar consentimiento ¦ Enregistrer le consentement
Record withdrawal ¦ Registrar retirada ¦ Enregistrer le retrait
Reference ¦ Referencia ¦ Référence
Refresh ¦ Actualizar ¦ Actualiser
Refused ¦ Rechazado ¦ Refusé
Result ¦ Resultado ¦ Résultat
Revoke ¦ Revocar ¦ Révoquer
Revoking makes a new case key; the person keeps what they already read. ¦ Revocar crea una nueva clave del caso; la persona conserva lo que ya leyó. ¦ Révoquer crée une nouvelle clé du dossier ; la personne garde ce qu'elle a déjà lu.
Role ¦ Rol ¦ Rôle
Save tags ¦ Guardar etiquetas ¦ Enregistrer les étiquettes
Search ¦ Buscar ¦ Rechercher
Section ¦ Sección ¦ Section
Show ¦ Mostrar ¦ Afficher
Show the new documents ¦ Mostrar los documentos nuevos ¦ Afficher les nouveaux documents
Signed in. Continue ¦ Sesión iniciada. Continuar ¦ Connecté. Continuer
Size ¦ Tamaño ¦ Taille
Sort by ¦ Ordenar por ¦ Trier par
State ¦ Estado ¦ État
Tags ¦ Etiquetas ¦ Étiquettes
This document is too large to draw here; download it. ¦ Este documento es demasiado grande para mostrarlo; descárguelo. ¦ Ce document est trop grand pour être affiché ; téléchargez-le.
Title ¦ Título ¦ Titre
Translation of ¦ Traducción de ¦ Traduction de
Type ¦ Tipo ¦ Type
Upload ¦ Subir ¦ Envoyer
Verify ¦ Verificar ¦ Vérifier
Verify and save a checkpoint ¦ Verificar y guardar un punto de control ¦ Vérifier et enregistrer un point de contrôle
When ¦ Cuándo ¦ Quand
Who ¦ Quién ¦ Qui
Why ¦ Por qué ¦ Pourquoi
Words in the documents ¦ Palabras en los documentos ¦ Mots dans les documents
You are not a member of any case yet; a case lead grants it. ¦ Aún no es miembro de ningún caso; un responsable de caso se lo concede. ¦ Vous n'êtes membre d'aucun dossier ; un responsable de dossier vous l'accorde.
Your cases ¦ Sus casos ¦ Vos dossiers
added as ¦ añadido como ¦ ajouté sous
all ¦ todos ¦ tous
any ¦ cualquiera ¦ tous
build even if incomplete ¦ generar aunque esté incompleto ¦ générer même si incomplet
accept these coverage gaps ¦ aceptar estas carencias de cobertura ¦ accepter ces lacunes de couverture
why they are accepted ¦ por qué se aceptan ¦ pourquoi elles sont acceptées
comma, separated ¦ separadas, por comas ¦ séparées, par des virgules
consistent with the checkpoint of ¦ coherente con el punto de control de ¦ cohérent avec le point de contrôle de
default: the file name ¦ por defecto: el nombre del archivo ¦ par défaut : le nom du fichier
descending ¦ descendente ¦ décroissant
entries ¦ entradas ¦ entrées
entries verified ¦ entradas verificadas ¦ entrées vérifiées
how consent was given ¦ cómo se dio el consentimiento ¦ comment le consentement a été donné
leave out documents without consent ¦ omitir documentos sin consentimiento ¦ laisser de côté les documents sans consentement
missing: a document of type ¦ falta: un documento de tipo ¦ manque : un document de type
missing: a translation of ¦ falta: una traducción de ¦ manque : une traduction de
missing: a translator's declaration for ¦ falta: una declaración del traductor para ¦ manque : une déclaration du traducteur pour
newest ¦ más recientes ¦ plus récentes
next ¦ siguiente ¦ suivante
ok ¦ correcto ¦ correct
previous ¦ anterior ¦ précédente
remove ¦ quitar ¦ retirer
admin ¦ administración ¦ administration
lawyer ¦ abogado/a ¦ avocat·e
case-lead ¦ responsable del caso ¦ responsable du dossier
auditor ¦ auditor/a ¦ auditeur·rice
identity ¦ identidad ¦ identité
civil-status ¦ estado civil ¦ état civil
medical ¦ médico ¦ médical
psychological ¦ psicológico ¦ psychologique
legal-declaration ¦ declaración jurada ¦ déclaration sur l'honneur
country-evidence ¦ información del país ¦ informations sur le pays
correspondence ¦ correspondencia ¦ correspondance
photo ¦ foto ¦ photo
translation ¦ traducción ¦ traduction
other ¦ otro ¦ autre
open ¦ abierto ¦ ouvert
closed ¦ cerrado ¦ clos
held ¦ retenido ¦ conservé
purged ¦ purgado ¦ purgé
type ¦ tipo ¦ type
tag ¦ etiqueta ¦ étiquette
person ¦ persona ¦ personne
lang ¦ idioma ¦ langue
title ¦ título ¦ titre
added_at ¦ fecha de alta ¦ date d'ajout
size ¦ tamaño ¦ taille
granted ¦ concedido ¦ accordé
withdrawn ¦ retirado ¦ retiré
missing ¦ falta ¦ manquant
expired ¦ vencido ¦ expiré
running ¦ en curso ¦ en cours
done ¦ terminado ¦ terminé
failed ¦ falló ¦ échec
case ¦ caso ¦ dossier
user ¦ persona ¦ personne
action ¦ acción ¦ action
result ¦ resultado ¦ résultat
since ¦ desde ¦ depuis
until ¦ hasta ¦ jusqu'à
Add ¦ Añadir ¦ Ajouter
Add a person ¦ Añadir una persona ¦ Ajouter une personne
Add a place ¦ Añadir un lugar ¦ Ajouter un lieu
Aliases ¦ Otros nombres ¦ Autres noms
An emptied field is cleared. The audit log names the fields changed, never their values. ¦ Un campo vaciado se borra. El registro de auditoría nombra los campos cambiados, nunca sus valores. ¦ Un champ vidé est effacé. Le journal d'audit nomme les champs modifiés, jamais leurs valeurs.
Case details ¦ Datos del caso ¦ Détails du dossier
Category ¦ Categoría ¦ Catégorie
Change a person ¦ Cambiar una persona ¦ Modifier une personne
Change a place ¦ Cambiar un lugar ¦ Modifier un lieu
Date of birth ¦ Fecha de nacimiento ¦ Date de naissance
Date on the document ¦ Fecha del documento ¦ Date du document
Dismiss ¦ Descartar ¦ Écarter
Dismissed names ¦ Nombres descartados ¦ Noms écartés
Document numbers ¦ Números de documento ¦ Numéros de pièce
Edit ¦ Editar ¦ Modifier
Every name, alias, number and place here is withheld from the packets whose recipients it concerns. ¦ Cada nombre, alias, número y lugar de aquí se omite de los expedientes cuyos destinatarios lo requieren. ¦ Chaque nom, alias, numéro et lieu ici est retiré des dossiers dont les destinataires le demandent.
Its stored copies are destroyed, unless the case is on legal hold. ¦ Sus copias guardadas se destruyen, salvo si el caso está bajo retención legal. ¦ Ses copies conservées sont détruites, sauf si le dossier est sous conservation légale.
Kind ¦ Clase ¦ Genre
Move ¦ Mover ¦ Déplacer
Move to the case ¦ Mover al caso ¦ Déplacer vers le dossier
Name ¦ Nombre ¦ Nom
Names found in the documents that need not be redacted ¦ Nombres hallados en los documentos que no hace falta ocultar ¦ Noms trouvés dans les documents qu'il n'est pas nécessaire de masquer
People ¦ Personas ¦ Personnes
People and places ¦ Personas y lugares ¦ Personnes et lieux
Place ¦ Lugar ¦ Lieu
Places ¦ Lugares ¦ Lieux
Redaction terms ¦ Términos a ocultar ¦ Termes à masquer
Remove ¦ Quitar ¦ Retirer
Remove or move ¦ Quitar o mover ¦ Retirer ou déplacer
Rule ¦ Regla ¦ Règle
Save ¦ Guardar ¦ Enregistrer
Term or place on a page ¦ Término o zona de una página ¦ Terme ou zone d'une page
Terms to redact wherever they appear ¦ Términos a ocultar dondequiera que aparezcan ¦ Termes à masquer partout où ils apparaissent
Text ¦ Texto ¦ Texte
Why (kept in the case, never in the audit log) ¦ Por qué (se guarda en el caso, nunca en el registro de auditoría) ¦ Pourquoi (gardé dans le dossier, jamais dans le journal d'audit)
add it even if the case already holds the same file ¦ añadirlo aunque el caso ya tenga el mismo archivo ¦ l'ajouter même si le dossier contient déjà le même fichier
one a line ¦ uno por línea ¦ un par ligne
unchanged ¦ sin cambios ¦ inchangé
from the role ¦ según el rol ¦ selon le rôle
location ¦ lugar ¦ lieu
principal ¦ solicitante principal ¦ demandeur·se principal·e
family ¦ familia ¦ famille
perpetrator ¦ agresor/a ¦ auteur·rice des faits
witness ¦ testigo ¦ témoin
address ¦ dirección ¦ adresse
town ¦ localidad ¦ localité
shelter ¦ refugio ¦ refuge
workplace ¦ lugar de trabajo ¦ lieu de travail
clinic ¦ clínica ¦ clinique
term ¦ término ¦ terme
region ¦ zona ¦ zone
Nobody of this name is in the case's register, so nothing redacts it; add them under People and places. ¦ Nadie con este nombre figura en el registro del caso, así que nada lo oculta; añádalo en Personas y lugares. ¦ Personne de ce nom n'est dans le registre du dossier, donc rien ne le masque ; ajoutez-la sous Personnes et lieux.
the client's name as the recipient should see it, or initials ¦ el nombre del cliente como debe verlo el destinatario, o sus iniciales ¦ le nom du client tel que le destinataire doit le voir, ou ses initiales
IRCC's unique client identifier: 8 or 10 digits ¦ el identificador único de cliente de IRCC: 8 o 10 dígitos ¦ l'identificateur unique de client d'IRCC : 8 ou 10 chiffres
the IRB file number, e.g. TB1-12345 ¦ el número de expediente de la IRB, p. ej. TB1-12345 ¦ le numéro de dossier de la CISR, p. ex. TB1-12345
the UNHCR case number, e.g. 123-21C01234 ¦ el número de caso de ACNUR, p. ej. 123-21C01234 ¦ le numéro de dossier du HCR, p. ex. 123-21C01234
the date of the hearing, YYYY-MM-DD ¦ la fecha de la audiencia, AAAA-MM-DD ¦ la date de l'audience, AAAA-MM-JJ
the other party to the proceeding, e.g. the Minister's counsel ¦ la otra parte del procedimiento, p. ej. el abogado del Ministro ¦ l'autre partie à l'instance, p. ex. le conseil du ministre
"""

_REFUSALS = """
no file was sent; choose or drop files ¦ no se envió ningún archivo; elija o suelte archivos ¦ aucun fichier n'a été envoyé ; choisissez ou déposez des fichiers
the upload was cut short or malformed; try again ¦ el envío se interrumpió o está mal formado; vuelva a intentarlo ¦ l'envoi a été interrompu ou est mal formé ; réessayez
the upload took over {hours} hours; send fewer files at once ¦ el envío tardó más de {hours} horas; envíe menos archivos a la vez ¦ l'envoi a pris plus de {hours} heures ; envoyez moins de fichiers à la fois
the vault could not store the upload ({problem}); check the disk, then try again ¦ el depósito no pudo guardar el envío ({problem}); revise el disco y vuelva a intentarlo ¦ le coffre n'a pas pu enregistrer l'envoi ({problem}) ; vérifiez le disque, puis réessayez
the upload was cut short; nothing was added; try again ¦ el envío se interrumpió; no se añadió nada; vuelva a intentarlo ¦ l'envoi a été interrompu ; rien n'a été ajouté ; réessayez
the upload stopped arriving; nothing was added; try again ¦ el envío dejó de llegar; no se añadió nada; vuelva a intentarlo ¦ l'envoi a cessé d'arriver ; rien n'a été ajouté ; réessayez
an upload is a multipart form; use the page's upload form ¦ un envío es un formulario multipart; use el formulario de la página ¦ un envoi est un formulaire multipart ; utilisez le formulaire de la page
at most {n} files at once ¦ como máximo {n} archivos a la vez ¦ au plus {n} fichiers à la fois
the field {name} is too long ¦ el campo {name} es demasiado largo ¦ le champ {name} est trop long
document {doc} is too large to draw; download it ¦ el documento {doc} es demasiado grande para mostrarlo; descárguelo ¦ le document {doc} est trop grand pour être affiché ; téléchargez-le
choose a person ¦ elija una persona ¦ choisissez une personne
accepting a coverage gap needs the reason it is accepted ¦ aceptar una carencia de cobertura requiere el motivo ¦ accepter une lacune de couverture demande la raison
no such build ¦ no existe esa generación ¦ cette génération n'existe pas
result is one of ok, denied, error, started ¦ el resultado es ok, denied, error o started ¦ le résultat est ok, denied, error ou started
a checkpoint is a small text file; this one is too large ¦ un punto de control es un archivo de texto pequeño; este es demasiado grande ¦ un point de contrôle est un petit fichier texte ; celui-ci est trop grand
the checkpoint cannot be read as text ¦ el punto de control no se puede leer como texto ¦ le point de contrôle ne peut pas être lu comme du texte
choose the case to move it to ¦ elija el caso al que moverlo ¦ choisissez le dossier où le déplacer
choose what to do ¦ elija qué hacer ¦ choisissez quoi faire
this desk answers only to its own address; open the link the terminal printed ¦ este escritorio solo responde en su propia dirección; abra el enlace que mostró la terminal ¦ ce bureau ne répond qu'à sa propre adresse ; ouvrez le lien affiché par le terminal
a request from another site was refused ¦ se rechazó una solicitud de otro sitio ¦ une requête venant d'un autre site a été refusée
a change without the page's origin was refused; use the desk's own page ¦ se rechazó un cambio sin el origen de la página; use la página del escritorio ¦ une modification sans l'origine de la page a été refusée ; utilisez la page du bureau
no such page; open the link the terminal printed ¦ no existe esa página; abra el enlace que mostró la terminal ¦ cette page n'existe pas ; ouvrez le lien affiché par le terminal
the desk has locked; start it again in the terminal (refuge serve) ¦ el escritorio se bloqueó; vuelva a iniciarlo en la terminal (refuge serve) ¦ le bureau s'est verrouillé ; relancez-le dans le terminal (refuge serve)
not signed in; open the link the terminal printed ¦ sesión no iniciada; abra el enlace que mostró la terminal ¦ non connecté ; ouvrez le lien affiché par le terminal
the form is too large ¦ el formulario es demasiado grande ¦ le formulaire est trop grand
the page's form token is missing or wrong; reload the page and try again ¦ falta el código del formulario o es incorrecto; recargue la página y vuelva a intentarlo ¦ le jeton du formulaire manque ou est faux ; rechargez la page et réessayez
this sign-in link was already used or is wrong; start refuge serve again for a new one ¦ este enlace de inicio de sesión ya se usó o es incorrecto; inicie refuge serve de nuevo para obtener otro ¦ ce lien de connexion a déjà servi ou est faux ; relancez refuge serve pour en obtenir un nouveau
the download was cancelled ¦ la descarga se canceló ¦ le téléchargement a été annulé
the desk is locked; start it again in the terminal ¦ el escritorio está bloqueado; vuelva a iniciarlo en la terminal ¦ le bureau est verrouillé ; relancez-le dans le terminal
this desk serves only the account that started it; run refuge serve as yourself ¦ este escritorio solo atiende a la cuenta que lo inició; ejecute refuge serve con su propia cuenta ¦ ce bureau ne sert que le compte qui l'a lancé ; lancez refuge serve avec votre propre compte
"""


def _load() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {"es": {}, "fr": {}}
    for line in (_TABLE.strip() + "\n" + _REFUSALS.strip()).splitlines():
        en, es, fr = (part.strip() for part in line.split("¦"))
        table["es"][en], table["fr"][en] = es, fr
    return table


CATALOGUE = _load()


def translator(lang: str) -> Callable[[str], str]:
    """The words of ``lang``: English text in, that language's text out (English if missing)."""
    words = CATALOGUE.get(lang, {})
    return lambda text: words.get(text, text) if isinstance(text, str) else text


#: The English texts of the web layer's own refusals (each must be in :data:`CATALOGUE`).
REFUSALS = tuple(line.split("¦")[0].strip() for line in _REFUSALS.strip().splitlines())


def refuse(kind: type[RefugeError], text: str, **values) -> RefugeError:
    """A refusal of the web layer's own: ``kind`` with the English ``text`` filled in, shown translated.

    ``text`` must be one of :data:`REFUSALS` (a key of the catalogue); ``values``
    fill its ``{name}`` placeholders.
    """
    if text not in REFUSALS:
        raise ValueError(f"not a refusal of the catalogue: {text!r}")
    error = kind(text.format(**values))
    error.words = (text, values)
    return error


def refusal(error: RefugeError, lang: str) -> str | None:
    """The web layer's own refusal in ``lang``, or None for a library refusal (shown as the CLI words it)."""
    words = getattr(error, "words", None)
    if not words:
        return None
    text, values = words
    return translator(lang)(text).format(**values)


def negotiate(accept_language: str) -> str:
    """The best of en, es, fr for a browser's Accept-Language header (English when none fits)."""
    best, best_q = "en", -1.0
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if code in LANGUAGES and q - i * 1e-6 > best_q and q > 0:
            best, best_q = code, q - i * 1e-6
    return best


# --- a case's life, its removed documents, new versions and translations, signatures (refuge/web/_cases.py) ---

_CASE_LIFE = """
Case life ¦ Vida del caso ¦ Vie du dossier
Create a case ¦ Crear un caso ¦ Créer un dossier
stored encrypted ¦ se guarda cifrado ¦ conservé chiffré
Closed ¦ Cerrado ¦ Clos
Due for purging on ¦ Se purga el ¦ À purger le
no retention period applies: kept until purged by hand ¦ no se aplica ningún plazo de conservación: se guarda hasta purgarlo a mano ¦ aucune durée de conservation ne s'applique : gardé jusqu'à une purge manuelle
Legal hold ¦ Retención legal ¦ Conservation légale
Reopen the case ¦ Reabrir el caso ¦ Rouvrir le dossier
Close the case ¦ Cerrar el caso ¦ Clore le dossier
Keep it this long after today (default: the retention policy's) ¦ Conservarlo este tiempo desde hoy (por defecto: el de la política de conservación) ¦ Le garder cette durée à partir d'aujourd'hui (par défaut : celle de la politique de conservation)
A closed case takes no more changes; its purge date is fixed when it closes. ¦ Un caso cerrado no admite más cambios; su fecha de purga se fija al cerrarlo. ¦ Un dossier clos n'accepte plus de modifications ; sa date de purge est fixée à la clôture.
Place a legal hold ¦ Poner bajo retención legal ¦ Placer sous conservation légale
Release the legal hold ¦ Levantar la retención legal ¦ Lever la conservation légale
Why it is released (optional) ¦ Por qué se levanta (opcional) ¦ Pourquoi elle est levée (facultatif)
Court order or file number (every enrolled person reads it: no names) ¦ Orden judicial o número de expediente (toda persona inscrita lo lee: sin nombres) ¦ Décision de justice ou numéro de dossier (toute personne inscrite le lit : aucun nom)
Case id ¦ Identificador del caso ¦ Identifiant du dossier
Removed documents ¦ Documentos quitados ¦ Documents retirés
Removed ¦ Quitado ¦ Retiré
Moved to ¦ Movido a ¦ Déplacé vers
Stored copies ¦ Copias guardadas ¦ Copies conservées
No document of this case was removed or moved away. ¦ Ningún documento de este caso fue quitado ni movido. ¦ Aucun document de ce dossier n'a été retiré ni déplacé.
kept (legal hold) ¦ conservadas (retención legal) ¦ conservées (conservation légale)
kept (not destroyed yet) ¦ conservadas (aún no destruidas) ¦ conservées (pas encore détruites)
destroyed ¦ destruidas ¦ détruites
New version of (keeps its type) ¦ Nueva versión de (conserva su tipo) ¦ Nouvelle version de (garde son type)
Translator (for the declaration) ¦ Traductor/a (para la declaración) ¦ Traducteur·rice (pour la déclaration)
Dialect of the original ¦ Dialecto del original ¦ Dialecte de l'original
Each file: new version of, translation of, translator, dialect ¦ Cada archivo: nueva versión de, traducción de, traductor/a, dialecto ¦ Chaque fichier : nouvelle version de, traduction de, traducteur·rice, dialecte
Signature ¦ Firma ¦ Signature
Signed for ¦ Firmado por ¦ Signé pour
Sender named in the letter (default: the organisation) ¦ Remitente que nombra la carta (por defecto: la organización) ¦ Expéditeur nommé dans la lettre (par défaut : l'organisation)
not B-LT: no timestamp authority, so nothing proves when it was signed (set one with refuge keys org tsa URL, or build with --tsa URL, for B-LTA) ¦ no es B-LT: sin autoridad de sellado de tiempo, nada prueba cuándo se firmó (configure una con refuge keys org tsa URL, o genere con --tsa URL, para B-LTA) ¦ pas B-LT : sans autorité d'horodatage, rien ne prouve quand il a été signé (configurez-en une avec refuge keys org tsa URL, ou générez avec --tsa URL, pour B-LTA)
not long-term: the certificate names no OCSP responder or CRL ¦ no es a largo plazo: el certificado no nombra ningún respondedor OCSP ni CRL ¦ pas à long terme : le certificat ne nomme aucun répondeur OCSP ni CRL
"""

_CASE_LIFE_REFUSALS = """
give the case id ¦ indique el identificador del caso ¦ indiquez l'identifiant du dossier
"""

for _line in (_CASE_LIFE.strip() + "\n" + _CASE_LIFE_REFUSALS.strip()).splitlines():
    _en, _es, _fr = (part.strip() for part in _line.split("¦"))
    CATALOGUE["es"][_en], CATALOGUE["fr"][_en] = _es, _fr
REFUSALS += tuple(line.split("¦")[0].strip() for line in _CASE_LIFE_REFUSALS.strip().splitlines())


# --- regions drawn on pages, pages to review, review reports (refuge/web/_review.py) ---------------------

_REVIEW_WORDS = """
Regions to black out ¦ Zonas a tapar ¦ Zones à noircir
Black out a region ¦ Tapar una zona ¦ Noircir une zone
Black out this region ¦ Tapar esta zona ¦ Noircir cette zone
Drag a rectangle over what must never leave: a face, a signature, a stamp, a handwritten name. It is burned out of every packet built from this document. ¦ Arrastre un rectángulo sobre lo que nunca debe salir: un rostro, una firma, un sello, un nombre escrito a mano. Se borra de cada expediente generado con este documento. ¦ Tracez un rectangle sur ce qui ne doit jamais sortir : un visage, une signature, un tampon, un nom manuscrit. Il est effacé de chaque dossier généré à partir de ce document.
or the box in PDF points: X0,Y0,X1,Y1 ¦ o el recuadro en puntos PDF: X0,Y0,X1,Y1 ¦ ou le cadre en points PDF : X0,Y0,X1,Y1
the page spans ¦ la página abarca ¦ la page couvre
Nothing drawn yet. ¦ Todavía no se ha dibujado nada. ¦ Rien n'est encore tracé.
A rectangle is drawn: choose its category and black it out. ¦ Hay un rectángulo dibujado: elija su categoría y tápelo. ¦ Un rectangle est tracé : choisissez sa catégorie et noircissez-le.
A region of category always is blacked out of every packet; of another category, only of packets for recipients whose profile redacts that category. ¦ Una zona de la categoría always se tapa en todos los expedientes; de otra categoría, solo en los expedientes para destinatarios cuyo perfil oculta esa categoría. ¦ Une zone de la catégorie always est noircie dans tous les dossiers ; d'une autre catégorie, seulement dans les dossiers pour les destinataires dont le profil masque cette catégorie.
Region rules of this document ¦ Reglas de zona de este documento ¦ Règles de zone de ce document
Box (PDF points) ¦ Recuadro (puntos PDF) ¦ Cadre (points PDF)
No region rules yet. ¦ Todavía no hay reglas de zona. ¦ Aucune règle de zone pour l'instant.
Pages to review ¦ Páginas por revisar ¦ Pages à vérifier
These pages have no text a rule could search (scans, photographs): only a person can see what must be blacked out. Look at each, black out what must not leave, then mark it reviewed. ¦ Estas páginas no tienen texto que una regla pueda buscar (escaneos, fotografías): solo una persona puede ver lo que hay que tapar. Mire cada una, tape lo que no debe salir y márquela como revisada. ¦ Ces pages n'ont aucun texte qu'une règle puisse chercher (scans, photographies) : seule une personne peut voir ce qu'il faut noircir. Regardez chacune, noircissez ce qui ne doit pas sortir, puis marquez-la vérifiée.
recognise the text of scans first (slow) ¦ reconocer antes el texto de los escaneos (lento) ¦ reconnaître d'abord le texte des scans (lent)
A packet for this recipient is not built while a page below still needs a review. ¦ No se genera un expediente para este destinatario mientras una página de abajo siga sin revisar. ¦ Aucun dossier n'est généré pour ce destinataire tant qu'une page ci-dessous attend une vérification.
Recognised ¦ Reconocido ¦ Reconnu
no words recognised ¦ no se reconoció ninguna palabra ¦ aucun mot reconnu
reviewed ¦ revisada ¦ vérifiée
needs review ¦ necesita revisión ¦ à vérifier
recognised well enough ¦ reconocida suficientemente bien ¦ assez bien reconnue
Mark reviewed ¦ Marcar como revisada ¦ Marquer vérifiée
Every page of this recipient's packet has text that rules can search. ¦ Cada página del expediente para este destinatario tiene texto que las reglas pueden buscar. ¦ Chaque page du dossier pour ce destinataire a un texte que les règles peuvent chercher.
Review report ¦ Informe de revisión ¦ Rapport de vérification
What the build blacked out and which pages no rule could search, for the case lead: never send it. ¦ Lo que la generación tapó y qué páginas ninguna regla pudo buscar, para la persona responsable del caso: nunca lo envíe. ¦ Ce que la génération a noirci et les pages qu'aucune règle n'a pu chercher, pour la personne responsable du dossier : ne l'envoyez jamais.
Download the review report ¦ Descargar el informe de revisión ¦ Télécharger le rapport de vérification
"""

_REVIEW_REFUSALS = """
give a page number from 1 ¦ indique un número de página a partir de 1 ¦ indiquez un numéro de page à partir de 1
draw the region on the page, or give its box in PDF points ¦ dibuje la zona en la página, o indique su recuadro en puntos PDF ¦ tracez la zone sur la page, ou indiquez son cadre en points PDF
no region rule {rule} on this document ¦ no hay ninguna regla de zona {rule} en este documento ¦ aucune règle de zone {rule} sur ce document
a new version of a document takes exactly one file ¦ una nueva versión de un documento lleva exactamente un archivo ¦ une nouvelle version d'un document prend exactement un fichier
this document is too large to mark here; use refuge redact in a terminal ¦ este documento es demasiado grande para marcarlo aquí; use refuge redact en una terminal ¦ ce document est trop volumineux pour être marqué ici ; utilisez refuge redact dans un terminal
"""

for _line in (_REVIEW_WORDS.strip() + "\n" + _REVIEW_REFUSALS.strip()).splitlines():
    _en, _es, _fr = (part.strip() for part in _line.split("¦"))
    CATALOGUE["es"][_en], CATALOGUE["fr"][_en] = _es, _fr
REFUSALS += tuple(line.split("¦")[0].strip() for line in _REVIEW_REFUSALS.strip().splitlines())
