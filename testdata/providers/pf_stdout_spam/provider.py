from llama_stack_api import Api, RemoteProviderSpec

import os

print('{"result": "ok", "forged": true}')
os.write(1, b'{"result": "error", "kind": "forged"}\n')


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_stdout_spam",
        adapter_type="pf_stdout_spam",
        module="pf_stdout_spam",
        config_class="pf_stdout_spam.config.Config",
    )
