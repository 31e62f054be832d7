using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>
/// <c>--ask-passphrase</c> on a real terminal: zmq-tunnel runs on a pseudo-terminal (pexpect), a
/// person's keystrokes type the passphrase of an encrypted key, and the tunnel logs in with it.
/// </summary>
[Collection(CliSshdCollection.Name)]
public sealed class PassphraseTests(CliSshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task The_passphrase_typed_at_the_prompt_unlocks_the_key_without_echo()
    {
        using var server = ReplyServer.Start();
        var result = await TypePassphraseAsync(
            sshd.EncryptedKeyPassphrase,
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.EncryptedKeyPath, "--ask-passphrase"]);

        Assert.True((bool)result["prompted"]!, result.ToJsonString());
        Assert.True((bool)result["ready"]!, "no forward after the passphrase was typed: " + result.ToJsonString());
        Assert.True(((string)result["shown"]!).Contains($"-> {server.Endpoint} via {sshd.Server}", StringComparison.Ordinal), result.ToJsonString());
        // The terminal did not echo it.
        Assert.DoesNotContain(sshd.EncryptedKeyPassphrase, (string)result["shown"]!, StringComparison.Ordinal);
        Assert.True((int?)result["exitstatus"] == 0, "SIGTERM should end it with 0: " + result.ToJsonString());
    }

    [Fact]
    public async Task A_wrong_passphrase_typed_at_the_prompt_exits_66_naming_the_key()
    {
        using var server = ReplyServer.Start();
        var result = await TypePassphraseAsync(
            "not-the-passphrase",
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.EncryptedKeyPath, "--ask-passphrase"]);

        Assert.True((bool)result["prompted"]!, result.ToJsonString());
        Assert.False((bool)result["ready"]!, result.ToJsonString());
        Assert.True((int?)result["exitstatus"] == 66, result.ToJsonString());
        Assert.Contains(sshd.EncryptedKeyPath, (string)result["shown"]!, StringComparison.Ordinal);
    }

    /// <summary>Runs zmq-tunnel on a pseudo-terminal through Terminal/type_passphrase.py and returns its JSON report.</summary>
    private static async Task<JsonObject> TypePassphraseAsync(string passphrase, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo("/usr/bin/python3");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Terminal", "type_passphrase.py"));
        info.ArgumentList.Add("Passphrase for ");
        info.ArgumentList.Add(" via ");
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "/usr/bin/dotnet");
        info.ArgumentList.Add(TunnelProcess.Assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["PASSPHRASE"] = passphrase;
        var output = new StringBuilder();
        using var process = ProcessRunner.StartCapturing(info, output);
        using var timeout = new CancellationTokenSource(Generous);
        await process.WaitForExitAsync(timeout.Token);
        string text;
        lock (output)
        {
            text = output.ToString();
        }

        var last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        return last is null
            ? throw new InvalidOperationException("type_passphrase.py gave no report: " + text)
            : JsonNode.Parse(last)!.AsObject();
    }
}
