"""agentpref backends that judge images: one module per backend behind `Assessor`."""
