using System.Net.Http.Json;
using System.Text.Json;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client's <c>/health</c> is a report (what the dashboard's "health report" link
/// opens): the tunnel check's status, and data naming the SSH server and its pinned host key.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientHealthTests(SshdFixture sshd)
{
    /// <summary>The health check AddSshTunnel("server") registers.</summary>
    private const string TunnelCheck = "ZmqAspire.SshTunnel_server";

    [Fact]
    public async Task Health_reports_the_ssh_session_and_host_key()
    {
        using var server = ReplyServer.Start();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log);
        try
        {
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 1 ["), TimeSpan.FromSeconds(60)), "no replies:\n" + ClientProcess.Text(log));

            // The client listens on its forward and on its HTTP port (127.0.0.1:0): ask each.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            JsonElement? report = null;
            foreach (var port in ClientKillTests.Listeners(client.Id))
            {
                try
                {
                    report = await http.GetFromJsonAsync<JsonElement>(new Uri($"http://127.0.0.1:{port}/health"));
                    break;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
                {
                    // Not the HTTP port (the forward relays to the REP server).
                }
            }

            Assert.NotNull(report);
            Assert.Equal("Healthy", report.Value.GetProperty("status").GetString());
            var tunnel = report.Value.GetProperty("checks").GetProperty(TunnelCheck);
            Assert.Equal(sshd.HostKeyFingerprint, tunnel.GetProperty("data").GetProperty("ssh.host_key").GetString());
        }
        finally
        {
            client.Kill();
            await client.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task A_bastion_name_that_does_not_resolve_is_said_plainly_in_the_log_and_the_health_report()
    {
        using var server = ReplyServer.Start();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log, connection: new Dictionary<string, string?>
        {
            // The reserved .invalid TLD: the lookup fails locally, nothing leaves the machine.
            ["SshServer"] = $"{SshdFixture.User}@bastion.zmqaspire.invalid:22",
        });
        try
        {
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "name not resolved"), TimeSpan.FromSeconds(60)), "the log does not say it:\n" + ClientProcess.Text(log));

            var description = await ReadTunnelHealthAsync(client.Id);
            Assert.Contains("name not resolved", description, StringComparison.Ordinal);
            Assert.Contains("bastion.zmqaspire.invalid", description, StringComparison.Ordinal);
        }
        finally
        {
            client.Kill();
            await client.WaitForExitAsync();
        }
    }

    /// <summary>The tunnel's check's description from the client's <c>/health</c> (its HTTP port is one of its listeners).</summary>
    private static async Task<string> ReadTunnelHealthAsync(int pid)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var port in ClientKillTests.Listeners(pid))
        {
            try
            {
                // Unhealthy is HTTP 503, with the same JSON report.
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"));
                var report = await response.Content.ReadFromJsonAsync<JsonElement>();
                return report.GetProperty("checks").GetProperty(TunnelCheck).GetProperty("description").GetString() ?? string.Empty;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                // Not the HTTP port (the forward's: it holds the connection while there is no session).
            }
        }

        Assert.Fail("no /health answered on the client's ports");
        return string.Empty;
    }
}
