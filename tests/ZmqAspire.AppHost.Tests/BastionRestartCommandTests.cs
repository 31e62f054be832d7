using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>An AppHost of its own: its bastion is restarted by Aspire's own command.</summary>
public sealed class BastionRestartCommandFixture : AppHostFixture;

[CollectionDefinition(Name)]
public sealed class BastionRestartCommandCollection : ICollectionFixture<BastionRestartCommandFixture>
{
    public const string Name = "AppHost whose bastion is restarted by the dashboard's command";
}

/// <summary>
/// The dashboard's Restart command (Aspire's <c>resource-restart</c>) deletes the bastion's
/// container and creates a new one, unlike <c>docker restart</c> (ReplicaFaultTests): everything
/// the hosting integration put into the first container (the host key, authorized_keys,
/// PermitOpen) must be put into the new one too, with the same host key, or the client is locked
/// out until the AppHost restarts. Replays microsoft/aspire#7011 ("BeforeResourceStartedEvent is
/// not re-fired when application is restarted") and #5879 (environment and argument callbacks
/// not applied again on restart) for our bastion.
/// </summary>
[Collection(BastionRestartCommandCollection.Name)]
public sealed class BastionRestartCommandTests(BastionRestartCommandFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task After_the_restart_command_the_bastion_has_the_same_host_key_and_the_client_is_served_again()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);
        var before = await fixture.ContainerIdAsync("bastion");
        await using (await SshTunnelSession.ConnectAsync(fixture.BastionOptions(), cts.Token))
        {
        }

        var command = await fixture.App.Services.GetRequiredService<ResourceCommandService>()
            .ExecuteCommandAsync("bastion", KnownResourceCommands.RestartCommand, cts.Token);
        Assert.True(command.Success, command.Message);

        // A new container, healthy (its sshd sends its banner).
        var after = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "bastion",
            e => e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
                && e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string id && id.Length > 0 && id != before),
            cts.Token);
        output.WriteLine($"bastion container {before[..12]} -> {after.Snapshot.Properties.First(p => p.Name == "container.id").Value}");

        // The same pinned host key and the same client key log in (host key, authorized_keys).
        await using (await SshTunnelSession.ConnectAsync(fixture.BastionOptions(), cts.Token))
        {
        }

        // The client's own tunnel logs in again (its second session) and reports Healthy:
        // its health check includes the forward's channel to the server (PermitOpen).
        using var http = new HttpClient { BaseAddress = fixture.App.GetEndpoint("client", "http"), Timeout = TimeSpan.FromSeconds(30) };
        System.Text.Json.JsonElement check = default;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync("/health", cts.Token);
            var report = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token)).RootElement.Clone();
            check = report.GetProperty("checks").GetProperty("ZmqAspire.SshTunnel_server");
            if (check.GetProperty("status").GetString() == "Healthy" && Sessions(check) >= 2)
            {
                break;
            }

            await Task.Delay(250, cts.Token);
        }

        output.WriteLine(check.ToString());
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.True(Sessions(check) >= 2, "the client did not log in to the new bastion");
    }

    /// <summary>The report's <c>ssh.sessions</c> (the health writer puts data values as text).</summary>
    private static int Sessions(System.Text.Json.JsonElement check)
    {
        var value = check.GetProperty("data").GetProperty("ssh.sessions");
        return value.ValueKind == System.Text.Json.JsonValueKind.Number
            ? value.GetInt32()
            : int.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }
}
