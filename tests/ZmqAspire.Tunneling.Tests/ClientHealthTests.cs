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
            var tunnel = report.Value.GetProperty("checks").GetProperty("ssh-tunnel");
            Assert.Equal(sshd.HostKeyFingerprint, tunnel.GetProperty("data").GetProperty("ssh.host_key").GetString());
        }
        finally
        {
            client.Kill();
            await client.WaitForExitAsync();
        }
    }
}
