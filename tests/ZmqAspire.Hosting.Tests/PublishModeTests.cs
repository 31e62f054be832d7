using System.Text.Json.Nodes;

namespace ZmqAspire.Hosting.Tests;

/// <summary>Publish mode: no keys made, parameters instead, and a manifest without key material.</summary>
public sealed class PublishModeTests
{
    [Fact]
    public async Task Manifest_refers_to_parameters_and_holds_no_key_material_and_no_key_is_made()
    {
        using var model = new ModelBuilder(publish: true);
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        model.Builder.AddContainer("worker", "debian", "bookworm-slim").WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));
        model.Builder.AddExecutable("tool", "true", ".").WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));

        using (var app = model.Builder.Build())
        {
            await app.RunAsync();
        }

        Assert.False(Directory.Exists(model.KeyDirectory), "publish mode made keys");
        var text = await File.ReadAllTextAsync(model.ManifestPath);
        Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ssh-ed25519 ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SHA256:", text, StringComparison.Ordinal);
        Assert.DoesNotContain(model.KeyDirectory, text, StringComparison.Ordinal);

        var resources = JsonNode.Parse(text)!["resources"]!;
        Assert.Equal(
            "SshServer=tunnel@{bastion.bindings.ssh.host}:{bastion.bindings.ssh.port};HostKeyFingerprint={bastion-host-key-fingerprint.value};RemoteEndpoint=tcp://server:5556;PrivateKeyPath={bastion-client-key-path.value}",
            (string?)resources["tool"]!["env"]!["ConnectionStrings__server"]);
        Assert.Equal(
            "SshServer=tunnel@bastion:22;HostKeyFingerprint={bastion-host-key-fingerprint.value};RemoteEndpoint=tcp://server:5556;PrivateKeyPath=/run/aspire-ssh/bastion_client_ed25519_key",
            (string?)resources["worker"]!["env"]!["ConnectionStrings__server"]);
        Assert.Equal("server:5556", (string?)resources["bastion"]!["env"]!["BASTION_PERMIT_OPEN"]);
        Assert.Equal("parameter.v0", (string?)resources["bastion-host-key-fingerprint"]!["type"]);

        // The recipe is written beside the manifest, so the published build context exists.
        var context = Path.GetFullPath(Path.Combine(model.OutputDirectory, (string)resources["bastion"]!["build"]!["context"]!));
        Assert.StartsWith(Path.Combine(model.OutputDirectory, "ssh-bastion-image"), context, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(context, "Dockerfile")));
    }
}
