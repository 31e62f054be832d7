using System.Net;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client's request log (issue #21): health probes, which the container engine and the
/// AppHost send every few seconds, are left out of it; any other request is logged once, with
/// its method, path and status. ASP.NET Core's "Request starting/finished" lines are not logged.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientRequestLogTests(SshdFixture sshd)
{
    private const string OtherPath = "/not-a-probe";

    [Fact]
    public async Task Health_probes_are_not_logged_other_requests_are()
    {
        using var server = ReplyServer.Start();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log);
        try
        {
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 1 ["), TimeSpan.FromSeconds(60)), "no replies:\n" + ClientProcess.Text(log));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var baseUri = await HttpBaseAsync(http, client.Id);

            // As the probes do: several of each, then one request a user would want to see.
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(baseUri, "/health"))).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(baseUri, "/alive"))).StatusCode);
            }

            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(baseUri, OtherPath))).StatusCode);

            // The other request's entry shows (it was the last request): everything before it was written.
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Path: " + OtherPath), TimeSpan.FromSeconds(10)), "the request to " + OtherPath + " was not logged:\n" + ClientProcess.Text(log));
            var text = ClientProcess.Text(log);
            Assert.Contains("StatusCode: 404", text, StringComparison.Ordinal);
            Assert.DoesNotContain("/health", text, StringComparison.Ordinal);
            Assert.DoesNotContain("/alive", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Request finished", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Executing endpoint", text, StringComparison.Ordinal);
        }
        finally
        {
            client.Kill();
            await client.WaitForExitAsync();
        }
    }

    /// <summary>The client's HTTP endpoint (127.0.0.1:0): the one of its listeners that answers /alive (the other is its forward).</summary>
    private static async Task<Uri> HttpBaseAsync(HttpClient http, int pid)
    {
        foreach (var port in ClientKillTests.Listeners(pid))
        {
            var candidate = new Uri($"http://127.0.0.1:{port}");
            try
            {
                if ((await http.GetAsync(new Uri(candidate, "/alive"))).IsSuccessStatusCode)
                {
                    return candidate;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The forward: it relays to the REP server, which speaks no HTTP.
            }
        }

        throw new InvalidOperationException("the client has no HTTP listener");
    }
}
