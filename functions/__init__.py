"""Entry points: the CLI, and (as the project grows) queue workers, workflow-action endpoints, the scheduled
payment sync and the local Flask app. Each stays thin: parse, call one SDK function, shape the answer."""
