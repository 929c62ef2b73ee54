"""The page's words in English, Spanish and French: a small catalogue keyed by the English text.

A word missing from a language shows in English (tests/test_web_i18n.py checks
that every word the templates use has both translations). Messages of the
library (refusals) stay in English: they are the same lines the CLI prints.
"""

from __future__ import annotations

from typing import Callable

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
"""


def _load() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {"es": {}, "fr": {}}
    for line in _TABLE.strip().splitlines():
        en, es, fr = (part.strip() for part in line.split("¦"))
        table["es"][en], table["fr"][en] = es, fr
    return table


CATALOGUE = _load()


def translator(lang: str) -> Callable[[str], str]:
    """The words of ``lang``: English text in, that language's text out (English if missing)."""
    words = CATALOGUE.get(lang, {})
    return lambda text: words.get(text, text) if isinstance(text, str) else text


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
