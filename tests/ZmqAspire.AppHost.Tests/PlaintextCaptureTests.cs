namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The control for <see cref="CurveEndToEndTests.With_curve_the_bastion_to_server_leg_carries_only_ciphertext"/>: with
/// CURVE off (the default), a capture of the same leg shows the request and reply in plaintext,
/// so the capture does see the payload when it is there.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class PlaintextCaptureTests(AppHostFixture fixture)
{
    [Fact]
    public async Task Without_curve_the_bastion_to_server_leg_carries_the_payload_in_plaintext()
    {
        var result = await ServerLeg.SendCapturedAsync(fixture, curveServerKey: null);

        Assert.Equal(ServerLeg.ReplyText, result.Reply);
        Assert.True(result.Complete, "the capture never showed the reply:\n" + result);
        Assert.Contains(result.Connections, c => c.Mechanism == "NULL");
        Assert.True(result.Shows(result.Probe), "request body not seen in plaintext:\n" + result);
        Assert.True(result.Shows(ServerLeg.ReplyText), "reply not seen in plaintext:\n" + result);
    }
}
