import torch, time, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def bench(f, n=5):
    f(); t=time.time()
    for _ in range(n): f()
    return (time.time()-t)/n
B=64
for (cin,cout,H) in [(128,64,32),(64,32,64)]:
    x = torch.randn(B,cin,H//2,H//2, requires_grad=True)
    conv = nn.Conv2d(cin,cout,3,padding=1,bias=False)
    convT = nn.ConvTranspose2d(cin,cout,4,2,1,bias=False)
    def up_conv(x=x, conv=conv):
        y = conv(F.interpolate(x, scale_factor=2.0, mode='nearest')); y.sum().backward()
    def up_convT(x=x):
        y = convT(x); y.sum().backward()
    xcl = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    conv_cl = nn.Conv2d(cin,cout,3,padding=1,bias=False).to(memory_format=torch.channels_last)
    convT_cl = nn.ConvTranspose2d(cin,cout,4,2,1,bias=False).to(memory_format=torch.channels_last)
    def up_conv_cl():
        y = conv_cl(F.interpolate(xcl, scale_factor=2.0, mode='nearest')); y.sum().backward()
    def up_convT_cl():
        y = convT_cl(xcl); y.sum().backward()
    print(cin,cout,H, 'up+conv %.1fms'%(1e3*bench(up_conv)), 'convT %.1fms'%(1e3*bench(up_convT)), 'up+conv CL %.1fms'%(1e3*bench(up_conv_cl)), 'convT CL %.1fms'%(1e3*bench(up_convT_cl)))
