import multiprocessing

from pf_spawn_child import child

if multiprocessing.parent_process() is None:
    process = multiprocessing.get_context("spawn").Process(target=child.write_and_connect)
    process.start()
    process.join(30)
    # The spawn context starts a resource tracker; stop it as an orderly exit would.
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_spawn_child",
        adapter_type="pf_spawn_child",
        module="pf_spawn_child",
        config_class="pf_spawn_child.config.Config",
    )
