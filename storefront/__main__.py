"""The `storefront` command, as `python -m storefront` and as the installed script."""

from storefront.collector import collect_young_objects_less_often


def main() -> None:
    collect_young_objects_less_often()  # before the imports below, which allocate hundreds of thousands of objects
    from storefront.cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
