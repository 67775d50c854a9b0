"""The YAML configuration tree. It installs as the package ``fer.conf`` (pyproject.toml), which is
how every entry point finds it, in a source checkout, an editable install or a wheel."""
