using Microsoft.Extensions.Hosting;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Starts one tunnel with the host (resolving it checks its settings, opens its local ports and
/// starts logging in: a bad setting fails the host's start) and closes it when the host stops.
/// The host stops its services in reverse order, so services added after <c>AddSshTunnel</c>
/// stop before their tunnel closes.
/// </summary>
internal sealed class SshTunnelHostedService(Func<SshTunnel> resolve) : IHostedService
{
    private SshTunnel? _tunnel;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _tunnel = resolve();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_tunnel is { } tunnel)
        {
            await tunnel.DisposeAsync().ConfigureAwait(false);
        }
    }
}
