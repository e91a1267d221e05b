"""An account's configuration: its skills, users (agents) and agent groups, with names.

The ids are those the events carry; the names are what people read. The platform writes
a configuration document (``document.py``) through the write API or ``engactivity config
import``; the store keeps it beside the events, per account with a revision
(``store.py``); the LivePerson-format read endpoints answer it (``select.py``,
``render.py``). What each kind of entity holds is declared once, in ``kinds.py``.
"""
