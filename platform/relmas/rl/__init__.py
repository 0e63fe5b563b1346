"""Deep-RL scheduler: RLlib PPO training with a masking RLModule, export, and policy loading.

The only package that imports ``ray.rllib``; this ``__init__`` imports nothing so that
``relmas.rl.policy_scheduler`` (numpy inference) loads without Ray or torch.
"""
