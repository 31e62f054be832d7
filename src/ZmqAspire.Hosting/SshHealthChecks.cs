using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>The health checks the package registers: the bastion's SSH banner and a target's TCP accept.</summary>
internal static class SshHealthChecks
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Healthy once sshd itself answers: the host-side proxy accepts TCP before the container is
    /// up, so only the <c>SSH-2.0-</c> banner (RFC 4253 section 4.2) proves sshd is serving.
    /// </summary>
    public static async Task<HealthCheckResult> CheckSshBannerAsync(EndpointReference endpoint, CancellationToken cancellationToken)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("SSH endpoint not allocated yet");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[256];
            var read = await tcp.GetStream().ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
            var banner = Encoding.ASCII.GetString(buffer, 0, read).TrimEnd();
            return banner.StartsWith("SSH-2.0-", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy(banner)
                : HealthCheckResult.Unhealthy($"no SSH banner (got {read} bytes)");
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"sshd not answering: {ex.Message}");
        }
    }

    /// <summary>
    /// Healthy once something accepts a TCP connection on the endpoint's host address, and sends
    /// nothing first or holds the connection open for a moment (a proxy whose container is not
    /// listening yet resets it at once).
    /// </summary>
    public static async Task<HealthCheckResult> CheckTcpAcceptAsync(EndpointReference endpoint, CancellationToken cancellationToken)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("endpoint not allocated yet");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token).ConfigureAwait(false);
            // A ZMTP peer (ZeroMQ RFC 23) sends its greeting at once; a dead backend behind DCP's
            // proxy closes the connection. Either shows within a short read.
            using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            read.CancelAfter(TimeSpan.FromMilliseconds(500));
            try
            {
                var n = await tcp.GetStream().ReadAsync(new byte[64], read.Token).ConfigureAwait(false);
                return n > 0
                    ? HealthCheckResult.Healthy($"{endpoint.Host}:{endpoint.Port} accepts and speaks")
                    : HealthCheckResult.Unhealthy($"{endpoint.Host}:{endpoint.Port} closed the connection");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Healthy($"{endpoint.Host}:{endpoint.Port} accepts");
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{endpoint.Host}:{endpoint.Port} not accepting: {ex.Message}");
        }
    }
}
