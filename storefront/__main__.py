"""The `storefront` command, as `python -m storefront` and as the installed script."""

from storefront.collector import collect_young_objects_less_often, no_collections_while_importing


def main() -> None:
    collect_young_objects_less_often()
    with no_collections_while_importing():  # the imports below allocate hundreds of thousands of objects
        from storefront.cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
