using Microsoft.Extensions.Hosting;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Starts one tunnel with the host and closes it when the host stops. The tunnel is resolved in
/// <see cref="StartingAsync"/>, which the host runs for every lifecycle service before any
/// service's <c>StartAsync</c>: resolving it checks its settings (a bad one fails the start
/// before any of the service's own hosted services has started), opens its local ports and
/// starts logging in. The host stops services in reverse order, so services added after
/// <c>AddSshTunnel</c> stop before their tunnel closes.
/// </summary>
internal sealed class SshTunnelHostedService(Func<SshTunnel> resolve) : IHostedLifecycleService
{
    private SshTunnel? _tunnel;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _tunnel = resolve();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_tunnel is { } tunnel)
        {
            await tunnel.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
