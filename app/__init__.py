"""The domain: the workflow table and its engine, business types, guards, effects, row scope, services,
announcements, accounts, roster and audit. Imports models and the ground floor; never reports, views or ops."""
