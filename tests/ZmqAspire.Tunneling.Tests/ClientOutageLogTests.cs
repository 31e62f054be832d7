using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client's log during an outage: a state change is logged once, not once per
/// reconnect. With the server stopped behind a healthy sshd the client logged about 100
/// "Forward failed" warnings in 15 s; while the bastion is down, one warning per login attempt
/// (7 in 20 s, paced by the login backoff). The figures are printed for docs/reliability.md.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientOutageLogTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const string ForwardFailed = "SSH tunnel server: forward failed";
    private const string ConnectRetry = "SSH tunnel server: login failed";
    private const string SessionLost = "SSH tunnel server: session closed";
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_the_target_down_the_client_warns_once()
    {
        using var client = ClientProcess.Start(sshd, string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{TestNet.FreePort()}"), out var log);
        try
        {
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "SSH tunnel server up"), Generous), "the tunnel never came up:\n" + ClientProcess.Text(log));
            await Task.Delay(Outage);
            // From the start: the first refusal can come before the tunnel-up line is read.
            var warnings = Count(log, ForwardFailed);

            output.WriteLine($"target down {Outage.TotalSeconds:0} s: {warnings} '{ForwardFailed}' warning(s) ({warnings * 60 / Outage.TotalSeconds:0.#}/min)");
            Assert.Equal(1, warnings);
        }
        finally
        {
            ProcessRunner.Stop(client);
        }
    }

    [Fact]
    public async Task With_the_bastion_down_the_client_warns_once_not_once_per_login_attempt()
    {
        using var server = ReplyServer.Start();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log);
        try
        {
            Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 1 ["), Generous), "no replies:\n" + ClientProcess.Text(log));
            var retriesBefore = Count(log, ConnectRetry);
            var failuresBefore = Count(log, ForwardFailed);
            var lostBefore = Count(log, SessionLost);
            await Task.Run(() => sshd.Restart(Outage)).WaitAsync(Generous);
            var retries = Count(log, ConnectRetry) - retriesBefore;
            var failures = Count(log, ForwardFailed) - failuresBefore;
            var lost = Count(log, SessionLost) - lostBefore;

            output.WriteLine(
                $"bastion down {Outage.TotalSeconds:0} s: {lost} '{SessionLost}', {retries} '{ConnectRetry}' ({retries * 60 / Outage.TotalSeconds:0.#}/min), {failures} '{ForwardFailed}'");
            // One per outage; a second only if the failure changes on the way (sshd going away
            // can reset a connect before the port is closed).
            Assert.InRange(retries, 1, 2);
            // The session's loss is said once, as the session's; not as a failure of the target
            // (SSH.NET hands the session's error to every forwarded port: SessionLossEventTests).
            Assert.Equal(1, lost);
            Assert.Equal(0, failures);
            Assert.True(await ClientProcess.WaitForAsync(() => Count(log, "SSH tunnel server up") >= 2, Generous), "the tunnel did not come back:\n" + ClientProcess.Text(log));
        }
        finally
        {
            ProcessRunner.Stop(client);
        }
    }

    private static int Count(StringBuilder log, string text)
    {
        var all = ClientProcess.Text(log);
        var count = 0;
        for (var i = all.IndexOf(text, StringComparison.Ordinal); i >= 0; i = all.IndexOf(text, i + text.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
