"""Email distribution to journalists: who gets what, claiming and sending, reports.

- ``rules``: who is sent which message when an event happens; pure, no database.
- ``planning``: the rules applied, one ``deliveries`` row per (release, subscriber,
  kind); the unique key makes a repeated event plan nothing new.
- ``sending``: a batch claimed with a lease, rendered, sent through the mail port and
  recorded reply by reply: a killed worker leaves only the rows it had not recorded,
  claimed again when the lease runs out; its sent rows never are.
- ``rendering``: one message per (release, kind, language), each kind from its own
  template folder under ``templates/email/``.
- ``reports``: what the office sees of a release's deliveries.

Every SQL statement these run against the deliveries is in ``workflow.db.deliveries``.
"""
