"""Refusals that the domain builds as finished English sentences (``Choice.refusal``,
"only approvers can approve", from the roles and the action), which the pages translate
whole. Extraction cannot see them where they are made, so they are marked here for
``make messages`` to keep them in the catalogue; tests/unit/test_action_choices.py checks
that every one the domain can make has its Korean."""

from __future__ import annotations

from typing import Final


def N_(message: str) -> str:  # gettext's name for "mark, do not translate"
    return message


REFUSALS: Final = (
    N_("Please log in to continue."),
    N_("The form has expired; please try again."),
    N_("authors cannot approve their own release"),
    N_("only approvers can approve"),
    N_("only approvers can reject"),
    N_("only approvers can request changes"),
    N_("only approvers can supersede"),
    N_("only approvers can unpublish"),
    N_("only approvers can withdraw"),
    N_("only press officers can abandon"),
    N_("only press officers can correct"),
    N_("only press officers can publish"),
    N_("only press officers can reopen"),
    N_("only press officers can schedule"),
    N_("only press officers can submit"),
    N_("only press officers can unschedule"),
    N_("only press officers can update details"),
    N_("only press officers change a release's photos and documents"),
    N_("only press officers or translators can edit"),
    N_("only press officers request translations"),
    N_("only the author can abandon a release"),
    N_("that language's text is already live: change it through a correction, not a translation"),
    N_("the release is closed"),
    N_("the scheduler publishes it at the scheduled time"),
    N_("translators edit only the language version assigned to them"),
    N_("you edited this text, so someone else must approve it"),
    N_("you have already approved this text"),
    # Signing in with a second factor, and setting one up
    N_("wrong email or password"),
    N_("the code is not right, or was already used"),
    N_("state: the sign-in took too long; enter your password again"),
    N_("state: the sign-in is not valid; start again"),
    N_("code: the code is not right, or was already used"),
    N_("code: type the six digits your authenticator app shows"),
    N_("code: type the six digits your authenticator app shows, or a recovery code"),
    N_("two-factor sign-in is already on; turn it off first"),
    N_("there is no two-factor set-up waiting for a code; start again"),
    N_("two-factor sign-in is not on"),
    N_("the office requires two-factor sign-in of you"),
    N_("two_factor: must be one of off, approvers_and_admins, everyone"),
    # Single sign-on
    N_("password sign-in is switched off: use single sign-on"),
    N_("the provider refused the sign-in"),
    N_("the sign-in state does not match this browser; start again"),
    N_("the answer came from another provider"),
    N_("the provider sent no authorization code"),
    N_("the provider did not exchange the code"),
    N_("the provider sent no ID token"),
    N_("the signature of the ID token does not hold"),
    N_("the ID token is not for this sign-in"),
    N_("the provider cannot be used"),
    N_("the provider cannot be reached"),
    N_("the provider did not vouch for an email address"),
    N_("no staff account has this email address; an admin must add it first"),
    N_("the account is deactivated"),
    N_("the sign-in took too long, or began in another browser; start again"),
    N_("role: must be empty or one of approver, press_officer, translator"),
)
