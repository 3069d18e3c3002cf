"""The simulated operator reads the same options from its ConfigMap and from an OperatorConfiguration."""

from __future__ import annotations

from harness.sim.zalando import config_from_configmap, config_from_crd_object


def test_both_configuration_sources_give_the_same_options():
    configmap = {
        "docker_image": "ghcr.io/zalando/spilo-18:4.1-p2",
        "cluster_labels": "application:spilo,env:test",
        "cluster_name_label": "cluster-name",
        "enable_team_id_clustername_prefix": "true",
        "min_instances": "2",
        "super_username": "admin",
        "enable_pod_disruption_budget": "false",
    }
    crd_object = {"configuration": {
        "docker_image": "ghcr.io/zalando/spilo-18:4.1-p2",
        "enable_team_id_clustername_prefix": True,
        "min_instances": 2,
        "kubernetes": {"cluster_labels": {"application": "spilo", "env": "test"},
                       "cluster_name_label": "cluster-name", "enable_pod_disruption_budget": False},
        "users": {"super_username": "admin"},
    }}
    assert config_from_crd_object(crd_object) == config_from_configmap(configmap)
    got = config_from_crd_object(crd_object)
    assert got.team_prefix_required is True
    assert got.min_instances == 2
    assert got.pdb is False
    assert got.super_username == "admin"


def test_empty_values_fall_back_to_the_operator_defaults():
    got = config_from_crd_object({"configuration": {"kubernetes": {"cluster_labels": {}}, "users": {}}})
    assert got == config_from_configmap({})
    assert got.cluster_labels == (("application", "spilo"),)
