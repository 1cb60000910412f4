raise KeyboardInterrupt("raised by the provider at import")
