"""Use cases of a case (办件), one module per part of its life; import the module you need.

* ``intake``: 收件 at a window or from an online filing;
* ``outcomes``: the window's outcomes (受理, 容缺受理, 补齐补正, 不予受理, 即办件, 撤回) with their notices;
* ``back_office``: the back office's steps (办结, 容缺 materials supplied, clock stopped and restarted);
* ``queues``: the back office's lists, 电子监察, the A/B posts and reassignment;
* ``issuance``: 出件 (pick-up ticket, hand-over, courier);
* ``views``: the read models (case page, tracker, a person's cases) and who handles a case;
* ``notices``: numbering, storing and printing the written notices;
* ``log``: the append-only history, shared with the evaluation service; ``settings``: the hall's case settings;
* ``records`` and ``moves``: the row access and the state move every step shares.

Deliberately empty: the evaluation service imports ``log`` and ``settings`` while ``outcomes`` imports the
evaluation service; a package ``__init__`` importing the use cases would make that a cycle at import time.
Authorisation by role is the edge's; the department restriction of approvers is passed in (``departments``) and
enforced inside the transaction. Event payloads and the tracker view carry no personal data but the masked name.
"""
