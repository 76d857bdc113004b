"""Services the workflow and views call: numbering, working days, storage, external providers."""
