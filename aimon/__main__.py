try:
    from aimon.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: nothing ran, nothing to say
    raise SystemExit(130) from None

main()
